"""Docker's own formats, read without an engine: image references, platforms, Dockerfiles, build contexts,
build logs and ``docker save`` archives. Nothing here talks to an engine."""
