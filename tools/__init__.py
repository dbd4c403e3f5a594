"""The project's own tools (a package, run from the repository's root as ``python -m tools.<name>``):
``engines`` (the engine matrix's Docker 28.5 rigs), ``swarm`` (a test swarm of two 28.5 engines), ``labserver``
(``make lab``'s JupyterLab for the browser test and bench), ``as-binder.sh``."""
