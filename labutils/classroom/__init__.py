"""A class on JupyterHub: its settings, up and down, the spawners and authenticator, the hub client, the view.

One package for the class (the instructor's and the hub's code); ``class/`` keeps deployment files only (the
learners' image, the registry's image, the hub's configuration, Kubernetes values). Nothing here is imported
by ``import labutils``: a learner's lab needs none of it.

| module | what |
|---|---|
| ``settings`` | ``ClassSettings.read()``: every ``CLASS_*`` variable; the state folder and its secrets |
| ``deploy`` | ``make class`` / ``class-down``: the learners' image, the class registry, the hub |
| ``preflight`` | what a lab needs of this machine, checked before anything starts |
| ``fence`` | the firewall rules around the labs (``DOCKER-USER`` and ``INPUT``) |
| ``auth`` | ``ClassCodeAuthenticator``: a name is the first claimant's, with a password of their own |
| ``spawners`` | ``LabSpawner`` and ``PlacedSpawner`` (JupyterHub entry points ``labutils-lab``, ``labutils-placed``) |
| ``hub`` | a client of the hub's and of each lab's API (signing in, starting labs, running code) |
| ``view`` | the instructor's view of every learner, and the grades as CSV |

``python -m labutils.classroom up | down | status | image | passwd NAME | preflight``.
"""
LABEL = "io.labutils.class"
"""Every container and network of a class carries it, its value the class's name (CLASS_NAME)."""
PART = "io.labutils.class.part"
"""What the container or network is to the class: lab, registry, network."""
