"""labutils: build, run and measure the lab's Docker images from a notebook.

    import labutils as lu
    result = lu.build("work/normal-build", "welcome:v1")
    lu.run("welcome:v1").stdout

The top level is what a learner calls in a notebook, and nothing else (a test holds it to 45 names).
The house, layer by layer (import-linter checks the order; see docs/architecture.md):

- ``labutils.classroom``: a class on JupyterHub, and the instructor's views
- ``labutils.grading``: "your turn": checks, the learner's build.sh, the grade
- ``labutils.course``: exercises, approaches, best practices, the book's figures, progress, plots, doctor
- ``labutils.ops``: Docker's commands through the backend (build, run, images, analyze, lint, platforms)
- ``labutils.bases``: base images: local, pulled, or an offline stand-in
- ``labutils.backends``: the one door to an engine (live) or a recording (replay)
- ``labutils.docker``: Docker's formats read without an engine
- ``labutils.seam``, ``names``, ``settings``, ``errors``, ``util``: the contract, the labels, the settings,
  the one error root, small helpers
"""
from labutils.course.approaches import builders, measure, spread, summary, versus, with_buildkit
from labutils.course.book import versus_book
from labutils.course.doctor import doctor
from labutils.course.doctor import ready as lab_ready
from labutils.course.exercises import checkpoint, exercise_files, show, work, write_exercise
from labutils.course.progress import progress
from labutils.errors import LabError
from labutils.grading.script import run_script
from labutils.grading.yourturn import check, your_turn
from labutils.ops.analyze import analyze
from labutils.ops.build import build
from labutils.ops.containers import copy_out, file_size, ps, run, serve
from labutils.ops.images import (
    clean,
    image_exists,
    image_size,
    image_sizes,
    images,
    layer_digests,
    layers,
    same_files,
)
from labutils.ops.lint import lint
from labutils.ops.multiplatform import (
    build_platforms,
    cross_vs_emulated,
    engine_platforms,
    how_to_emulate,
    image_platforms,
    measure_platforms,
)
from labutils.ops.standins import ensure as ensure_bases
from labutils.util import human_size

__all__ = [
    # Docker's own calls: build, run, serve, and look at images
    "build", "run", "serve", "copy_out", "file_size", "ps", "run_script",
    "images", "image_size", "image_sizes", "image_exists", "layers", "layer_digests", "same_files",
    "analyze", "lint", "clean",
    # one Dockerfile, several platforms (notebook 08)
    "engine_platforms", "how_to_emulate", "build_platforms", "image_platforms", "measure_platforms",
    "cross_vs_emulated",
    # the lab's files, checks and progress
    "write_exercise", "show", "work", "exercise_files", "checkpoint", "your_turn", "check", "progress",
    "doctor", "lab_ready", "ensure_bases",
    # measuring and comparing
    "measure", "spread", "summary", "versus", "builders", "with_buildkit", "versus_book", "human_size", "plots",
    # the one error root (every error labutils raises is a LabError; the others are in labutils.errors)
    "LabError",
]


def __getattr__(name):
    # matplotlib is slow to import: `lu.plots` loads it on first use, not on `import labutils`
    if name == "plots":
        import importlib
        return importlib.import_module("labutils.course.plots")
    raise AttributeError(f"module 'labutils' has no attribute {name!r}")
