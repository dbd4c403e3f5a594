"""labutils: build, run and measure the lab's Docker images from a notebook.

    import labutils as lu
    result = lu.build("work/normal-build", "welcome:v1")
    lu.run("welcome:v1").stdout

Settings are read when a call needs them (``labutils.settings``); every call
that needs an engine goes through one seam (``labutils.backend``), live or recorded.
"""
from .analyze import Analysis, analyze
from .backend import from_recording
from .build import BuildResult, Step, build
from .buildkit import cli as buildkit_cli
from .containers import HttpAnswer, RunResult, Server, copy_out, file_size, ps, run, serve
from .doctor import doctor, ready as lab_ready
from .engine import docker_cli, reset_caches
from .errors import (BaseImageUnavailable, BuildFailed, CheckpointFailed, ContainerFailed, EngineUnavailable,
                     HttpFailed, ImageNotFound, InvalidArgument, LabError, PortInUse, RecordingMissing,
                     RunTimeout, ServerNotReady, SettingsError)
from .exercises import checkpoint, exercise_files, run_script, show, work, write_exercise
from .images import clean, image_exists, image_size, image_sizes, images, inspect, layer_digests, layers, same_files
from .lab import approaches, builders, measure, spread, summary, versus, with_buildkit
from .lint import lint
from .tracking import progress
from .yourturn import Review, your_turn, yours
from .results import book_figures, compare, versus_book
from .settings import settings
from .standins import ensure as ensure_bases
from .util import human_size
from . import lab

__all__ = [
    "build", "run", "serve", "copy_out", "file_size", "ps", "image_size", "image_exists", "inspect", "layers",
    "layer_digests", "same_files", "image_sizes",
    "images", "clean", "doctor", "lab_ready", "ensure_bases", "human_size", "write_exercise", "show", "run_script",
    "checkpoint", "work", "exercise_files", "settings", "reset_caches", "docker_cli",
    "book_figures", "versus_book", "compare", "lab", "plots",
    "measure", "spread", "summary", "versus", "approaches", "builders", "with_buildkit",
    "analyze", "Analysis", "your_turn", "yours", "Review", "progress", "lint", "buildkit_cli", "from_recording",
    "BuildResult", "Step", "RunResult", "Server", "HttpAnswer",
    "LabError", "EngineUnavailable", "BuildFailed", "BaseImageUnavailable", "ContainerFailed", "CheckpointFailed",
    "RunTimeout", "ServerNotReady", "PortInUse", "ImageNotFound", "RecordingMissing", "SettingsError",
    "InvalidArgument", "HttpFailed",
]


def __getattr__(name):
    # matplotlib is slow to import: `lu.plots` loads it on first use, not on `import labutils`
    if name == "plots":
        import importlib
        return importlib.import_module(".plots", __name__)
    if name == "WORK":              # read when asked, so LABUTILS_WORK set after import is honoured
        return work()
    raise AttributeError(f"module 'labutils' has no attribute {name!r}")
