"""The seam's contract (in the spirit of testcontainers' test_protocol_compliance.py).

Every call of ``seam.Backend`` is implemented by each backend with the protocol's
parameters, nothing is reached through a catch-all, every call is either keyed
for the recording or named live-only, and every keyed call that ``Recorder``
stores, ``Replayer`` replays to the same answer. The engine behind the recorder
here is a stand-in that answers canned data; the same round trip on the real
engine is ``make record`` followed by the recorded nbval pass.
"""
from __future__ import annotations

import contextlib
import inspect

import pytest

from labutils import seam
from labutils.backends.live.backend import Live
from labutils.backends.replay.recorder import Recorder
from labutils.backends.replay.replayer import Replayer
from labutils.settings import overridden

BACKENDS = [Live, Replayer, Recorder]


def _params(fn) -> list[str]:
    return [p for p in inspect.signature(fn).parameters if p != "self"]


@pytest.mark.parametrize("cls", BACKENDS, ids=lambda c: c.__name__)
def test_every_backend_implements_every_call_with_its_parameters(cls):
    for call in seam.calls():
        assert hasattr(cls, call), f"{cls.__name__} lacks {call}()"
        assert _params(getattr(cls, call)) == _params(getattr(seam.Backend, call)), \
            f"{cls.__name__}.{call} takes {_params(getattr(cls, call))}, the protocol {_params(getattr(seam.Backend, call))}"
    assert "__getattr__" not in vars(cls), f"{cls.__name__} must not answer unknown calls through __getattr__"


@pytest.mark.parametrize("cls", BACKENDS, ids=lambda c: c.__name__)
def test_every_backend_call_is_documented(cls):
    undocumented = [call for call in seam.calls() if not inspect.getdoc(getattr(cls, call))]
    assert not undocumented, f"{cls.__name__}: no docstring on {undocumented}"


def test_every_public_name_is_documented():
    import labutils as lu
    undocumented = [n for n in lu.__all__ if not inspect.getdoc(getattr(lu, n))]
    assert not undocumented, f"labutils.{undocumented} need a docstring (what, why, Raises)"


def test_no_live_call_outside_the_contract():
    public = {n for n in dir(Live) if not n.startswith("_") and callable(getattr(Live, n))}
    assert public <= set(seam.calls()), f"Live has calls the protocol lacks: {sorted(public - set(seam.calls()))}"


def test_every_call_is_keyed_or_named_live_only_never_both():
    for call in seam.calls():
        assert (call in seam.KEYS) != (call in seam.LIVE_ONLY), \
            f"{call}: put it in seam.KEYS (recorded) or seam.LIVE_ONLY (with why), exactly one"
    assert set(seam.KEYS) | set(seam.LIVE_ONLY) == set(seam.calls())


# --- the round trip: what Recorder stores, Replayer replays ------------------------------------

class _Handle:
    def __init__(self):
        self.info = {"url": "http://127.0.0.1:1", "host_port": 1, "container_name": "c"}

    def get(self, path, timeout=5):
        return {"url": self.info["url"] + path, "status": 200, "body": f"<h1>{path}</h1>"}

    def logs(self):
        return "listening\n"


class _Canned:
    """Answers each call with data of the protocol's shape and counts the calls (stands beside the real engine)."""

    mode = "live"

    def __init__(self):
        self.asked: list[str] = []

    def __getattr__(self, call):
        if call not in seam.calls():
            raise AttributeError(call)

        def answer(*args, **kwargs):
            self.asked.append(call)
            if call == "serve":
                return contextlib.nullcontext(_Handle())
            return CANNED[call]
        return answer


CANNED = {
    "describe": {"mode": "live", "engine_version": "28.5.2", "api_version": "1.51", "os_arch": "linux/amd64", "store": "overlay2", "emulates": [],
                 "label": ""},
    "build": {"log": ["Step 1/1 : FROM scratch"], "times": [0.1], "image_id": "sha256:" + "a" * 64, "error": None,
              "image": None},
    "inspect": {"id": "sha256:" + "b" * 64, "size": 2_000_000, "content": None, "total": None, "store": "overlay2",
                "diff_ids": [], "user": "", "labels": {}, "platform": "linux/amd64"},
    "image_platforms": [{"platform": "linux/amd64", "size": 2_000_000, "content": None, "available": True},
                        {"platform": "linux/arm64", "size": 1_900_000, "content": None, "available": True}],
    "exists": True,
    "pull": {"ok": False, "why": "no registry"},
    "history": [{"created_by": "COPY x /", "bytes": 10, "created": 0}],
    "images": [{"name": "welcome:v1", "id": "sha256:" + "c" * 64, "size": 10}],
    "save": {"layout": "oci", "history": ["COPY x /"], "layers": [[["x", 10, False, False]]],
             "files_digests": [{}], "rest": [{"files": 0, "bytes": 0}]},
    "run": {"exit_code": 0, "stdout": "Welcome\n", "stderr": "", "seconds": 0.2},
    "copy_out": {"name": "welcome", "mode": 0o755, "data": b"\x7fELF"},
    "stat": {"size": 1234},
    "containers": [],
    "all_containers": [{"name": "welcome-builder-container", "image": "welcome-builder:yours", "status": "created"}],
    "run_script": {"exit_code": 0, "stdout": "done\n", "stderr": "", "seconds": 1.0},
    "lab_images": [], "remove": [], "has_buildkit": True, "docker_cli": "/usr/bin/docker",
    "import_rootfs": None, "save_images": 0, "load_images": [], "tag": None, "untag": None,
}


def _arguments(call, folder):
    req = {"context": str(folder), "tag": "welcome:v1", "dockerfile": "Dockerfile", "target": None, "nocache": False,
           "buildargs": {}, "labels": {}, "builder": "classic", "key": {"dockerfile": "Dockerfile", "files": {}},
           "replayable": True}
    return {"build": (req, lambda text, t: None), "inspect": ("welcome:v1",), "image_platforms": ("welcome:v1",), "exists": ("golang:1.15.6",),
            "pull": ("golang:1.15.6", True), "history": ("welcome:v1",), "images": (["welcome:v1"], None),
            "save": ("welcome:v1",), "run": ("welcome:v1", None, {}, 60), "copy_out": ("welcome:v1", "/welcome"),
            "stat": ("welcome:v1", "/welcome"), "containers": (), "all_containers": (), "run_script": (str(folder), "build.sh", 60, None),
            "serve": ("activity:v1", 8080, {}, "/", 30, None)}[call]


@pytest.mark.parametrize("call", sorted(seam.KEYS))
def test_what_the_recorder_stores_the_recorded_backend_replays(call, tmp_path):
    folder = tmp_path / "exercise"
    folder.mkdir()
    (folder / "build.sh").write_text("docker build .\n")
    live, out = _Canned(), tmp_path / "recording"
    args = _arguments(call, folder)
    with overridden(LABUTILS_NOTEBOOK="01-normal-build"):
        recorder = Recorder(live, out)
        if call == "serve":
            with recorder.serve(*args) as server:
                first = (server.info, server.get("/contact"), server.logs())
        else:
            first = getattr(recorder, call)(*args)
        assert call in live.asked, f"Recorder.{call} must ask the live backend"
        replay = Replayer(out)
        if call == "serve":
            with replay.serve(*args) as server:
                again = (server.info, server.get("/contact"), server.logs())
        else:
            again = getattr(replay, call)(*args)
    expected = seam.KEYS.get(call) and first
    if call == "save":
        from labutils.docker import archive
        expected = archive.reduce(first)
    assert again == expected, f"{call}: recorded {expected!r}, replayed {again!r}"


@pytest.mark.parametrize("call", sorted(seam.LIVE_ONLY))
def test_live_only_calls_pass_through_the_recorder_and_store_nothing(call, tmp_path):
    live, out = _Canned(), tmp_path / "recording"
    recorder = Recorder(live, out)
    params = _params(getattr(seam.Backend, call))
    getattr(recorder, call)(*[None] * len(params))
    assert live.asked == [call]
    assert not list(out.glob("*.json")), f"{call} is live-only: nothing may be recorded"
