"""`make lab`'s JupyterLab: its terminals start where the course's commands expect them (`--config` passes this).

A terminal runs bash with ``terminal.bashrc``: the learner's own ~/.bashrc first, then the course's venv first on
PATH (so `python -m labutils check ...` is the course's Python even where pyenv or conda put theirs first) and the
course folder as the working directory (so `cd work/yours/normal-build` is where the notebooks say).
"""
import os
import shutil

c = get_config()  # noqa: F821 (traitlets gives config files get_config)

if shutil.which("bash"):
    c.ServerApp.terminado_settings = {
        "shell_command": ["bash", "--rcfile", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                           "terminal.bashrc"), "-i"]}
