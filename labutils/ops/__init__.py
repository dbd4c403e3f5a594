"""What Docker's commands do, through the backend: ``docker build``, ``run``, ``image ls``, ``image inspect``,
a layer analysis, a lint, multi-platform builds, the stand-in base images, and the runs log.

The modules are named after the commands (``build``, ``containers``, ``images``, ``analyze``, ``lint``); the
learner's calls are re-exported by ``labutils`` itself, so this ``__init__`` exports nothing."""
