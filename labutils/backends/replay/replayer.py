"""Recorded mode: a real live run's answers, replayed where no engine runs.

Two backends with the live backend's calls:

- ``Recorder`` wraps ``Live``: each call is answered by the engine and also
  stored (``LABUTILS_RECORD``).
- ``Replayer`` answers each call from the recording and never connects to
  anything. Every answer says it is recorded (a line on stderr). A call the
  recording lacks raises ``RecordingMissing`` naming what differs from the
  nearest recorded call; a call asked more often than recorded says so.

The files themselves are described in ``recording.py``; ``Recorder`` is in ``recorder.py``.
"""
from __future__ import annotations

import contextlib
import sys
from collections import defaultdict
from pathlib import Path

from labutils import seam
from labutils.backends.replay.recording import canon, differences, from_json, label, load, rebuild_error
from labutils.errors import EngineUnavailable, RecordingMissing
from labutils.settings import settings
from labutils.util import cmd_text

QUIET = {"exists", "pull"}   # labutils' own probes for base images: the build that asked says it is recorded

_MISSING_HINT = ("recorded mode replays only what the lab's own files gave on a real engine. Restore the lab's "
                 "file with lu.write_exercise(name, overwrite=True) to see the recorded answer, or run the lab "
                 "where a Docker Engine runs (unset LABUTILS_MODE) to try your change.")
_AGAIN_HINT = ("restart the kernel (Kernel > Restart) and run the notebook from the top: the recording replays "
               "each notebook's calls once, in order. Run the lab where a Docker Engine runs to try more.")


@seam.implements
class Replayer:
    """Answers every call from the recording; connects to nothing."""

    mode = "recorded"

    def __init__(self, path: Path):
        self.path = path
        self.meta, self.books = load(path)
        self.label = label(self.meta)
        self.served: dict[tuple, int] = defaultdict(int)
        self.unknown_tags: set[str] = set()
        merged = [e for name in sorted(self.books) for e in self.books[name]]
        self.index: dict[str | None, dict[tuple, list[dict]]] = {}
        for scope, entries in [*self.books.items(), (None, merged)]:
            by_key = self.index.setdefault(scope, {})
            for e in entries:
                by_key.setdefault((e["call"], canon(e["key"])), []).append(e)

    # -- finding entries
    def _scope(self) -> list[dict]:
        nb = settings().notebook
        if nb in self.books:
            return self.books[nb]
        return [e for name in sorted(self.books) for e in self.books[name]]

    def answer(self, call: str, key: dict, what: str):
        """The next recorded answer to ``call(key)``, printed output replayed; raises what was recorded."""
        nb = settings().notebook
        wanted = canon(key)
        matches = self.index[nb if nb in self.books else None].get((call, wanted))
        if not matches:
            raise self._missing(call, key, what, self._scope())
        slot = (settings().notebook, call, wanted)
        n = self.served[slot]
        if n >= len(matches) and call in QUIET:
            n = len(matches) - 1        # a probe for a base image: the engine's answer would not change
        elif n >= len(matches):
            raise RecordingMissing(
                f"Recorded mode cannot answer {what} again: the recording ({self.label}) holds it "
                f"{len(matches)} time{'s' if len(matches) > 1 else ''}"
                f"{' in ' + settings().notebook if settings().notebook in self.books else ''}, "
                f"and this is time {n + 1}.", hint=_AGAIN_HINT)
        self.served[slot] += 1
        entry = matches[n]
        self._note_replayed(entry)
        if call not in QUIET:
            print(f"[labutils] {what}: {self.label}; no engine was used.", file=sys.stderr, flush=True)
        if entry.get("printed"):
            print(entry["printed"], end="", flush=True)
        if "error" in entry:
            raise rebuild_error(entry["error"])
        return from_json(entry["answer"], self.path)

    def _note_replayed(self, entry: dict) -> None:
        log = settings().replay_log
        if log is not None:
            with open(log, "a") as fh:
                fh.write(f"{entry['notebook']}\t{entry['n']}\n")

    def _missing(self, call, key, what, scope) -> RecordingMissing:
        near = [e for e in scope if e["call"] == call]
        if not near:
            return RecordingMissing(f"Recorded mode cannot answer {what}: the recording holds no {call}() call.",
                                    hint=_MISSING_HINT)
        best = min(near, key=lambda e: len(differences(e["key"], key)))
        return RecordingMissing(
            f"Recorded mode cannot answer {what}: the recording ({self.label}) holds no such call. "
            f"Nearest recorded {call}(): {'; '.join(differences(best['key'], key))}.", hint=_MISSING_HINT)

    def _refuse_unknown(self, image: str, what: str) -> None:
        if image in self.unknown_tags:
            raise RecordingMissing(
                f"Recorded mode cannot answer {what}: {image} was last built in this session from files the "
                "recording does not hold (see that build's error), so what it would do is unknown.",
                hint=_MISSING_HINT)

    # -- the calls (seam.Backend)
    def describe(self):
        return {"mode": "recorded", "engine_version": self.meta["docker_version"],
                "api_version": self.meta["api_version"], "os_arch": self.meta.get("os_arch", ""),
                "store": self.meta.get("store", "overlay2"), "emulates": self.meta.get("emulates", []),
                "label": self.label}

    def has_buildkit(self):
        return True

    def docker_cli(self):
        return "recorded"

    def build(self, req, on_line):
        what = f"build of {req['tag']} from {req['key']['dockerfile']}"
        try:
            answer = self.answer("build", seam.key("build", req), what)
        except RecordingMissing:
            self.unknown_tags.add(req["tag"])
            raise
        self.unknown_tags.discard(req["tag"])
        for text, t in zip(answer["log"], answer["times"], strict=True):
            on_line(text, t)
        return answer

    def inspect(self, tag):
        return self._image_call("inspect", f"docker image inspect {tag}", tag)

    def image_platforms(self, tag):
        return self._image_call("image_platforms", f"the platforms of {tag}", tag)

    def exists(self, name):
        return self.answer("exists", seam.key("exists", name), f"whether {name} exists")

    def pull(self, name, quiet=False):
        return self.answer("pull", seam.key("pull", name), f"docker pull {name}")

    def history(self, tag):
        return self._image_call("history", f"docker history {tag}", tag)

    def images(self, tags, reference):
        return self.answer("images", seam.key("images", tags, reference),
                           "docker image ls " + " ".join(tags or [reference or ""]))

    def save(self, tag):
        return self._image_call("save", f"the layer analysis of {tag}", tag)

    def run(self, image, command, env, timeout, platform=None):
        what = f"docker run{f' --platform {platform}' if platform else ''} {image}" + \
            (f" {cmd_text(command)}" if command else "")
        return self._image_call("run", what, image, command, env, timeout, platform)

    @contextlib.contextmanager
    def serve(self, image, port, env, ready_path, timeout, host_port, platform=None):
        what = f"docker run -d -p 127.0.0.1::{port}{f' --platform {platform}' if platform else ''} {image}"
        yield RecordedServer(self._image_call("serve", what, image, port, env, ready_path, timeout, host_port,
                                              platform), self.label)

    def copy_out(self, image, path, platform=None):
        return self._image_call("copy_out", f"docker container cp {image}:{path}", image, path, platform)

    def stat(self, image, path, platform=None):
        return self._image_call("stat", f"the size of {path} in {image}", image, path, platform)

    def containers(self):
        return self.answer("containers", seam.key("containers"), "docker ps -a")

    def all_containers(self):
        return self.answer("all_containers", seam.key("all_containers"), "docker ps -a (every container)")

    def run_script(self, folder, script, timeout, source=None):
        return self.answer("run_script", seam.key("run_script", folder, script, timeout, source), f"sh {script}")

    def _image_call(self, call: str, what: str, image: str, *args):
        """A call about one image: refused when this session built it from files the recording lacks."""
        self._refuse_unknown(image, what)
        return self.answer(call, seam.key(call, image, *args), what)

    # -- the calls no recording holds (seam.LIVE_ONLY)
    def remove(self, dry_run, everyone):
        print("[labutils] recorded mode: no engine is used, so there is nothing to clean.")
        return []

    def lab_images(self):
        raise _needs_engine("the class view")

    def import_rootfs(self, archive, name, changes):
        raise _needs_engine(f"making the base image {name}")

    def tag(self, source, target):
        raise _needs_engine(f"docker image tag {source} {target}")

    def untag(self, name):
        raise _needs_engine(f"docker image rm {name}")

    def save_images(self, names, path):
        raise _needs_engine("saving a kit of base images")

    def load_images(self, path):
        raise _needs_engine(f"loading the kit {path}")


def _needs_engine(what: str) -> EngineUnavailable:
    return EngineUnavailable(f"labutils is in recorded mode, and {what} needs a Docker Engine: a recording "
                             "cannot answer it.", hint="run it where a Docker Engine answers (LABUTILS_MODE=live).")


class RecordedServer:
    """A served container's recorded answers: each GET as it was asked, in order."""

    def __init__(self, answer: dict, label: str):
        self.info = answer["info"]
        self._logs = answer["logs"]
        self._gets = defaultdict(list)
        for g in answer["gets"]:
            self._gets[g["path"]].append(g["answer"])
        self._asked: dict[str, int] = defaultdict(int)
        self.label = label

    def get(self, path: str, timeout: float = 5) -> dict:
        recorded = self._gets.get(path)
        if not recorded:
            raise RecordingMissing(f"Recorded mode cannot answer GET {path}: the recording holds answers for "
                                   f"{sorted(self._gets)} only ({self.label}).",
                                   hint="ask for one of those paths, or run the lab where a Docker Engine runs.")
        n = self._asked[path]
        if n >= len(recorded):
            raise RecordingMissing(f"Recorded mode cannot answer GET {path} again: it was recorded "
                                   f"{len(recorded)} time(s) ({self.label}).", hint=_AGAIN_HINT)
        self._asked[path] += 1
        print(f"[labutils] GET {path}: {self.label}; no engine was used.", file=sys.stderr, flush=True)
        return recorded[n]

    def logs(self) -> str:
        return self._logs


