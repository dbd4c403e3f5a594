"""labutils: build, run and measure the lab's Docker images from a notebook.

    import labutils as lu
    result = lu.build("work/normal-build", "welcome:v1")
    lu.run("welcome:v1").stdout
"""
from .bases import ensure as ensure_bases
from .build import BuildResult, Step, build
from .containers import HttpAnswer, RunResult, Server, copy_out, run, serve
from .doctor import doctor
from .errors import (BaseImageUnavailable, BuildFailed, ContainerFailed, EngineUnavailable,
                     ImageNotFound, LabError, PortInUse, RunTimeout, ServerNotReady)
from .exercises import CheckpointFailed, checkpoint, run_script, show, write_exercise
from .images import clean, human_size, image_size, images, layers
from .results import book_figures, versus_book

__all__ = [
    "build", "run", "serve", "copy_out", "image_size", "layers", "images", "clean",
    "doctor", "ensure_bases", "human_size", "write_exercise", "show", "run_script", "checkpoint",
    "book_figures", "versus_book", "CheckpointFailed",
    "BuildResult", "Step", "RunResult", "Server", "HttpAnswer",
    "LabError", "EngineUnavailable", "BuildFailed", "BaseImageUnavailable", "ContainerFailed",
    "RunTimeout", "ServerNotReady", "PortInUse", "ImageNotFound",
]
