"""The contract at the seam: what every backend answers, and how each call is keyed in a recording.

``Backend`` is the one type the public functions talk to (``labutils.backends.backend()``
gives it). Three classes implement it: ``backends.live.backend.Live`` (the engine),
``replay.recorder.Recorder`` (the engine, every answer also stored) and
``replay.replayer.Replayer`` (the recording, no engine). Answers are the ``TypedDict``
shapes below: plain data, so that a recording stores and replays them as they are.

``KEYS`` is the one table from a call to its recording key; ``LIVE_ONLY`` names the
calls a recording never holds, each with why. ``tests/unit/test_seam.py`` holds every
backend to both: a call in neither table, or a backend without it, fails.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, TypedDict

from labutils.util import cmd_text, file_digest

# --- what crosses the seam ----------------------------------------------------------

class Description(TypedDict):
    mode: str               # live | recorded
    engine_version: str
    api_version: str
    os_arch: str
    store: str              # containerd, or the graph driver (overlay2, ...): where the engine keeps images
    emulates: list[str]     # the foreign platforms its kernel runs through QEMU (platforms.emulated)
    label: str              # recorded: "recorded on <date>, Docker <version>"; live: ""


class BuildRequest(TypedDict):
    context: str
    tag: str
    dockerfile: str
    target: str | None
    nocache: bool
    buildargs: dict[str, str]
    labels: dict[str, str]
    builder: str            # classic | buildkit
    platform: str | None    # docker build --platform (os/arch[/variant]); None: the engine's own
    key: dict[str, Any]     # the recording key: the inputs' digests (build.build makes it)
    replayable: bool        # False for labutils' own builds of base images, which no recording holds


class ImageInfo(TypedDict):
    id: str
    size: int               # unpacked bytes (see stores.sizes)
    content: int | None     # compressed bytes, containerd store only
    total: int | None
    store: str
    diff_ids: list[str]
    user: str
    labels: dict[str, str]
    platform: str           # os/arch[/variant] of its config (a recording made before it has none: use .get)


class PlatformRow(TypedDict):
    platform: str           # os/arch[/variant]
    size: int | None        # unpacked bytes
    content: int | None     # compressed bytes, containerd store only
    available: bool         # its content is here (an index from a registry names platforms it did not fetch)


class BuildAnswer(TypedDict, total=False):
    log: list[str]
    times: list[float]
    image_id: str | None
    error: str | None
    seconds: float
    exit_code: int
    image: ImageInfo | None


class PullAnswer(TypedDict):
    ok: bool
    why: str


class HistoryRow(TypedDict):
    created_by: str
    bytes: int
    created: Any


class ImageRow(TypedDict):
    name: str
    id: str
    size: int


class LabImageRow(ImageRow):
    namespace: str
    created: str
    labels: dict[str, str]


class RunAnswer(TypedDict, total=False):
    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    truncated: bool


class CopyAnswer(TypedDict):
    name: str
    mode: int
    data: bytes


class StatAnswer(TypedDict):
    size: int


class ContainerRow(TypedDict):
    name: str
    image: str
    status: str


class RemovedRow(TypedDict, total=False):
    kind: str
    name: str
    id: str
    removed: bool
    note: str


class ServeInfo(TypedDict, total=False):
    url: str
    host_port: int
    container_name: str
    seconds: float


class HttpAnswerFields(TypedDict):
    url: str
    status: int
    body: str


class ServerHandle(Protocol):
    """A served container as a backend hands it out: its info, its answers, its logs."""

    @property
    def info(self) -> ServeInfo:
        """URL, host port, container name and seconds to ready."""

    def get(self, path: str, timeout: float = 5) -> HttpAnswerFields:
        """GET ``path`` on the server."""

    def logs(self) -> str:
        """What the container printed so far."""


class Backend(Protocol):
    """Every call labutils makes of an engine, live or recorded."""

    mode: str

    def describe(self) -> Description:
        """Mode, engine version, API version, OS/arch and (recorded) the recording's label."""

    def has_buildkit(self) -> bool:
        """Whether a build with ``builder="buildkit"`` can run here."""

    def docker_cli(self) -> str | None:
        """The docker command-line client's path ("recorded" in recorded mode), or None."""

    def build(self, req: BuildRequest, on_line: Callable[[str, float], None]) -> BuildAnswer:
        """One build: each log line to ``on_line`` as it comes; the log, timings and the image made."""

    def inspect(self, tag: str) -> ImageInfo:
        """An image's id, sizes, layer diff IDs, user and labels."""

    def image_platforms(self, tag: str) -> list[PlatformRow]:
        """The platforms a tag holds, each with its sizes (several for a multi-platform index)."""

    def exists(self, name: str) -> bool:
        """Whether the engine holds ``name`` exactly as given (no namespace applied)."""

    def pull(self, name: str, quiet: bool = False) -> PullAnswer:
        """``docker pull``; ``ok`` False with ``why`` when no registry answers."""

    def history(self, tag: str) -> list[HistoryRow]:
        """``docker history``: one row per step, newest first."""

    def images(self, tags: list[str], reference: str | None) -> list[ImageRow]:
        """``docker image ls``: the named tags, else this namespace's labelled images."""

    def lab_images(self) -> list[LabImageRow]:
        """Every labelled image of every namespace (the instructor's class view)."""

    def save(self, tag: str) -> dict:
        """``docker save`` of one image, read into a listing (``archive.read_archive``)."""

    def run(self, image: str, command: Sequence[str] | str | None, env: dict[str, str], timeout: float,
            platform: str | None = None) -> RunAnswer:
        """``docker run --rm [--platform]``: exit code, output (the last ``LOG_LIMIT`` bytes) and seconds."""

    def serve(self, image: str, port: int, env: dict[str, str], ready_path: str, timeout: float,
              host_port: int | None, platform: str | None = None) -> AbstractContextManager[ServerHandle]:
        """``docker run -d -p``, ready when ``ready_path`` answers; removed when the block ends."""

    def copy_out(self, image: str, path: str, platform: str | None = None) -> CopyAnswer:
        """``docker container cp``: one file's name, mode and bytes (of ``platform``'s image in an index)."""

    def stat(self, image: str, path: str, platform: str | None = None) -> StatAnswer:
        """A file's size in an image, nothing copied."""

    def containers(self) -> list[ContainerRow]:
        """``docker ps -a`` of this namespace's labelled containers."""

    def all_containers(self) -> list[ContainerRow]:
        """``docker ps -a`` of every container, labelled or not (what a learner's own commands left)."""

    def remove(self, dry_run: bool, everyone: bool) -> list[RemovedRow]:
        """Remove labutils' containers and images (this namespace's, or everyone's)."""

    def tag(self, source: str, target: str) -> None:
        """``docker image tag source target``."""

    def untag(self, name: str) -> None:
        """``docker image rm name`` of one tag (the image stays while another tag names it)."""

    def run_script(self, folder: str, script: str, timeout: float, source: str | None = None) -> RunAnswer:
        """``sh script`` in ``folder`` with the docker CLI; ``source`` is the learner's folder it was copied from."""

    def import_rootfs(self, archive: str, name: str, changes: list[str]) -> None:
        """``docker import`` of a root file system (the stand-in base images)."""

    def save_images(self, names: list[str], path: Path) -> int:
        """``docker save`` of several images into one kit; bytes written."""

    def load_images(self, path: Path) -> list[str]:
        """``docker load`` of a kit; the names loaded."""


# --- how each call is keyed in a recording -----------------------------------------------

def _script_key(folder: str, script: str, timeout: float = 0, source: str | None = None) -> dict:
    where = Path(source or folder)
    files = {p.name: file_digest(p) for p in sorted(where.iterdir()) if p.is_file() or p.is_symlink()}
    return {"script": script, "folder": where.name, "files": files}


KEYS: dict[str, Callable[..., dict]] = {
    "build": lambda req, on_line=None: req["key"],
    "inspect": lambda tag: {"tag": tag},
    "image_platforms": lambda tag: {"tag": tag},
    "exists": lambda name: {"name": name},
    "pull": lambda name, quiet=False: {"name": name},
    "history": lambda tag: {"tag": tag},
    "images": lambda tags, reference: {"tags": list(tags), "reference": reference},
    "save": lambda tag: {"tag": tag},
    "run": lambda image, command, env, timeout=None, platform=None:
        {"image": image, "command": cmd_text(command), "env": env, **({"platform": platform} if platform else {})},
    "serve": lambda image, port, env, ready_path, timeout=None, host_port=None, platform=None:
        {"image": image, "port": port, "env": env, "ready_path": ready_path,
         **({"platform": platform} if platform else {})},
    "copy_out": lambda image, path, platform=None: {"image": image, "path": path,
                                                    **({"platform": platform} if platform else {})},
    "stat": lambda image, path, platform=None: {"image": image, "path": path,
                                                **({"platform": platform} if platform else {})},
    "containers": lambda: {},
    "all_containers": lambda: {},
    "run_script": _script_key,
}
"""Call -> its recording key, from the call's own arguments. Recorder stores under it, Replayer looks it up."""

LIVE_ONLY: dict[str, str] = {
    "describe": "the recording's meta.json describes the engine it was made on",
    "has_buildkit": "a recording replays what BuildKit did, so it can always answer a BuildKit build",
    "docker_cli": "no command-line client is used to replay",
    "lab_images": "the instructor's class view reads live engines only",
    "remove": "recorded mode made nothing, so there is nothing to remove",
    "import_rootfs": "base images are made on a live engine",
    "tag": "the lab's names are given to base images on a live engine",
    "untag": "the lab's names are taken back on a live engine",
    "save_images": "kits are saved from a live engine",
    "load_images": "kits are loaded into a live engine",
}
"""The calls no recording holds, and why; Replayer answers them itself (or refuses), Recorder passes them on."""


def implements(cls):
    """Class decorator for a backend: every call of ``Backend`` is there, and documented.

    A method without a docstring takes the protocol's, so ``help()`` on any backend reads the contract.

    Raises:
        TypeError: at import, when ``cls`` lacks a call of the protocol.
    """
    for call in calls():
        fn = getattr(cls, call, None)
        if fn is None:
            raise TypeError(f"{cls.__name__} lacks {call}() of seam.Backend")
        if not getattr(fn, "__doc__", None):
            fn.__doc__ = getattr(Backend, call).__doc__
    return cls


def key(call: str, *args, **kwargs) -> dict:
    """The recording key of ``call(*args, **kwargs)``."""
    return KEYS[call](*args, **kwargs)


def calls() -> list[str]:
    """Every call of the contract, in the order the protocol lists them."""
    return [name for name in Backend.__dict__ if not name.startswith("_") and callable(Backend.__dict__[name])]
