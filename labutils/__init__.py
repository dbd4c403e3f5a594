"""labutils: build, run and measure the lab's Docker images from a notebook.

    import labutils as lu
    result = lu.build("work/normal-build", "welcome:v1")
    lu.run("welcome:v1").stdout
"""
from .bases import ensure as ensure_bases
from .build import BuildResult, Step, build
from .containers import HttpAnswer, RunResult, Server, copy_out, file_size, ps, run, serve
from .doctor import doctor, ready as lab_ready
from .errors import (BaseImageUnavailable, BuildFailed, ContainerFailed, EngineUnavailable,
                     ImageNotFound, LabError, PortInUse, RunTimeout, ServerNotReady)
from .exercises import WORK, CheckpointFailed, checkpoint, run_script, show, write_exercise
from .images import clean, human_size, image_exists, image_size, images, layers
from .recording import RecordingMissing, from_recording
from .analyze import Analysis, analyze
from .build import buildkit_cli
from .lint import lint
from . import lab
from .lab import measure, spread, summary, versus
from .results import book_figures, compare, versus_book

__all__ = [
    "build", "run", "serve", "copy_out", "file_size", "ps", "image_size", "image_exists", "WORK", "layers", "images", "clean",
    "doctor", "lab_ready", "ensure_bases", "human_size", "write_exercise", "show", "run_script", "checkpoint",
    "book_figures", "versus_book", "compare", "CheckpointFailed", "lab", "plots",
    "measure", "spread", "summary", "versus", "analyze", "Analysis", "lint", "buildkit_cli", "from_recording",
    "BuildResult", "Step", "RunResult", "Server", "HttpAnswer",
    "LabError", "EngineUnavailable", "BuildFailed", "BaseImageUnavailable", "ContainerFailed",
    "RunTimeout", "ServerNotReady", "PortInUse", "ImageNotFound", "RecordingMissing",
]


def __getattr__(name):
    # matplotlib is slow to import: `lu.plots` loads it on first use, not on `import labutils`
    if name == "plots":
        import importlib
        return importlib.import_module(".plots", __name__)
    raise AttributeError(f"module 'labutils' has no attribute {name!r}")
