"""labutils: build, run and measure the lab's Docker images from a notebook.

    import labutils as lu
    result = lu.build("work/normal-build", "welcome:v1")
    lu.run("welcome:v1").stdout

The top level is what a learner calls in a notebook. What an instructor or a
maintainer calls lives in named modules: ``labutils.settings`` (every setting,
read when asked), ``labutils.engine`` (``reset_caches``, ``docker_cli``),
``labutils.buildkit`` (``cli``), ``labutils.backend`` (the seam, ``from_recording``),
``labutils.results`` (``compare``, ``book_figures``), ``labutils.yourturn`` (``yours``),
``labutils.classview`` (the class view), ``labutils.standins`` (kits),
``labutils.record`` (recording the notebooks), ``labutils.practices`` (notebook 07).
"""
from .analysis import Analysis, analyze
from .building import BuildResult, Step, build
from .checkup import doctor
from .checkup import ready as lab_ready
from .containers import HttpAnswer, RunResult, Server, copy_out, file_size, ps, run, serve
from .errors import (
    BaseImageUnavailable,
    BuildFailed,
    CheckpointFailed,
    ContainerFailed,
    EngineUnavailable,
    HttpFailed,
    ImageNotFound,
    InvalidArgument,
    LabError,
    PortInUse,
    RecordingMissing,
    RunTimeout,
    ServerNotReady,
    SettingsError,
)
from .exercises import checkpoint, exercise_files, run_script, show, work, write_exercise
from .imageinfo import clean, image_exists, image_size, image_sizes, images, inspect, layer_digests, layers, same_files
from .lab import builders, measure, spread, summary, versus, with_buildkit
from .linting import lint
from .multiplatform import (
    binary_machine,
    build_platforms,
    cross_vs_emulated,
    engine_platforms,
    how_to_emulate,
    image_platforms,
    measure_platforms,
    platform_tag,
)
from .results import versus_book
from .standins import ensure as ensure_bases
from .tracking import progress
from .util import human_size
from .yourturn import Review, your_turn

__all__ = [
    # build, run, serve and look at images (Docker's own calls)
    "build", "run", "serve", "copy_out", "file_size", "ps", "run_script",
    "images", "inspect", "image_size", "image_sizes", "image_exists", "layers", "layer_digests", "same_files",
    "analyze", "lint", "clean", "binary_machine",
    # one Dockerfile, several platforms (notebook 08)
    "engine_platforms", "how_to_emulate", "build_platforms", "image_platforms", "platform_tag", "measure_platforms", "cross_vs_emulated",
    # the lab's files, checks and progress
    "write_exercise", "show", "work", "exercise_files", "checkpoint", "your_turn", "progress",
    "doctor", "lab_ready", "ensure_bases",
    # measuring and comparing
    "measure", "spread", "summary", "versus", "builders", "with_buildkit", "versus_book", "human_size", "plots",
    # results
    "BuildResult", "Step", "RunResult", "Server", "HttpAnswer", "Analysis", "Review",
    # errors
    "LabError", "EngineUnavailable", "BuildFailed", "BaseImageUnavailable", "ContainerFailed", "CheckpointFailed",
    "RunTimeout", "ServerNotReady", "PortInUse", "ImageNotFound", "RecordingMissing", "SettingsError",
    "InvalidArgument", "HttpFailed",
]


def __getattr__(name):
    # matplotlib is slow to import: `lu.plots` loads it on first use, not on `import labutils`
    if name == "plots":
        import importlib
        return importlib.import_module(".plots", __name__)
    raise AttributeError(f"module 'labutils' has no attribute {name!r}")
