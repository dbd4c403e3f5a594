"""``build()``: stream a build through the Engine API, time each step, say what failed.

The low-level streaming call (``APIClient.build(decode=True)``) lets the notebook
show every step as it happens; ``images.build`` would only return at the end.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Mapping

from docker.errors import APIError
from dockerfile_parse import DockerfileParser

from . import bases, engine, recording, results
from .errors import BuildFailed, LabError
from .images import human_size

_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


@dataclass(frozen=True)
class Step:
    """One Dockerfile instruction as the builder ran it."""
    number: int
    instruction: str
    seconds: float
    cached: bool
    output: str = field(default="", repr=False)
    stage: str = ""
    """The stage BuildKit names (``builder``, ``runtime``); the classic builder does not say."""


@dataclass(frozen=True)
class BuildResult:
    """What one build made: the image, how long it took, and each step."""
    tag: str
    image_id: str
    size: int
    seconds: float
    steps: tuple[Step, ...] = field(repr=False)
    log: str = field(repr=False)
    dockerfile: str = field(repr=False, default="Dockerfile")
    target: str | None = field(repr=False, default=None)
    substitutions: Mapping[str, str] = field(repr=False, default_factory=dict)
    builder: str = field(repr=False, default="classic")
    finished: str = field(repr=False, default="")
    attrs: Mapping = field(repr=False, compare=False, default_factory=dict)
    recorded: str = field(repr=False, default="")
    """Empty for a live build; else when and on which Docker the replayed build was recorded."""

    @property
    def size_mb(self) -> float:
        """Size in MB as ``docker image ls`` counts them (10**6 bytes)."""
        return self.size / 1e6

    @property
    def steps_cached(self) -> int:
        return sum(s.cached for s in self.steps)

    @property
    def steps_run(self) -> int:
        return sum(not s.cached for s in self.steps)

    def __repr__(self) -> str:
        return (f"BuildResult(tag={self.tag!r}, size={human_size(self.size)!r}, "
                f"steps={len(self.steps)}, seconds={self.seconds:.1f})")

    def steps_frame(self):
        """The steps as a DataFrame: number, instruction, seconds, cached."""
        import pandas as pd
        return pd.DataFrame([{"step": s.number, "instruction": s.instruction,
                              "seconds": round(s.seconds, 2), "cached": s.cached}
                             for s in self.steps])


class _StepClock:
    """Splits the streamed log into steps and times each one."""

    def __init__(self):
        self.steps: list[Step] = []
        self.current: dict | None = None
        self.total = 0

    def line(self, text: str, now: float) -> None:
        m = _STEP.match(text)
        if m:
            self.close(now)
            self.total = int(m.group(2))
            self.current = {"number": int(m.group(1)), "instruction": m.group(3).strip(),
                            "start": now, "cached": False, "lines": []}
        elif self.current is not None:
            if text.strip() == "---> Using cache":
                self.current["cached"] = True
            self.current["lines"].append(text)

    def close(self, now: float) -> None:
        c, self.current = self.current, None
        if c is not None:
            self.steps.append(Step(c["number"], c["instruction"], now - c["start"],
                                   c["cached"], "\n".join(c["lines"])))

    def failing(self) -> dict | None:
        return self.current


def _hint(error: str, target: str | None) -> str:
    e = error.lower()
    if "returned a non-zero code" in e or "executor failed running" in e or "did not complete successfully" in e:
        return ("the command of this RUN step failed: read its output above (a Go compile "
                "error names the file, line and column), fix it, and build again.")
    if "copy failed" in e or "file not found in build context" in e or "no source files" in e:
        return ("a file that COPY names is not in the build context folder: check its name, "
                "that it was written there, and that .dockerignore does not exclude it.")
    if "parse error" in e or "unknown instruction" in e:
        return "fix the Dockerfile line the engine names (instruction spelling, arguments)."
    if "target" in e and target:
        return f"--target {target!r} names no stage: use a name from a `FROM ... AS <name>` line."
    if "pull access denied" in e or "not found" in e and "manifest" in e:
        return "the FROM image cannot be had: run `python -m labutils bases --offline`."
    return "read the engine's answer and the output above, fix the Dockerfile or sources, and build again."


def build(path, tag: str, dockerfile: str | None = None, target: str | None = None,
          nocache: bool = False, buildargs: Mapping[str, str] | None = None, *,
          quiet: bool = False, labels: Mapping[str, str] | None = None,
          builder: str = "classic") -> BuildResult:
    """Build ``path`` as ``tag`` (``docker build -t tag [-f dockerfile] [--target] path``).

    Prints each line of the build as it arrives unless ``quiet``. Base images
    that cannot be had are replaced by their offline stand-ins in a copy of the
    Dockerfile, and that is said before the build starts. ``builder="buildkit"``
    builds through a docker CLI with BuildKit (``--progress=plain``) instead of
    the engine's classic builder, and returns the same ``BuildResult``.
    """
    if builder not in ("classic", "buildkit"):
        raise LabError(f"builder={builder!r} is not a builder labutils knows.",
                       hint="use builder='classic' (the engine's API) or builder='buildkit' (through the docker CLI).")
    context = Path(path).resolve()
    if not context.is_dir():
        raise LabError(f"The build context {context} is not a folder.",
                       hint="pass the folder that holds the Dockerfile and the files it copies.")
    df_path = Path(dockerfile) if dockerfile else Path("Dockerfile")
    if not df_path.is_absolute():
        df_path = context / df_path
    if not df_path.is_file():
        inside = sorted(p.name for p in context.iterdir())
        raise LabError(f"There is no Dockerfile at {df_path}.",
                       hint=("the build context is empty: write the lab's files into it first."
                             if not inside else
                             f"the folder holds {inside}; pass dockerfile= with the right name."))
    stages = bases.stage_names(DockerfileParser(fileobj=io.BytesIO(df_path.read_bytes()),
                                                build_args=dict(buildargs or {})))
    if target is not None and target.lower() not in {s.lower() for s in stages if s}:
        named = [s for s in stages if s]
        raise BuildFailed(f"Building {tag} cannot stop at target {target!r}: no stage has that name.",
                          command=_command(tag, df_path, context, target),
                          hint=(f"use one of the stage names {named}." if named else
                                "this Dockerfile names no stages; add `AS <name>` to a FROM line."))
    key = {"tag": tag, "dockerfile": df_path.name, "target": target, "nocache": bool(nocache),
           "buildargs": dict(buildargs or {}), "files": _inputs(context, df_path)}
    if builder != "classic":
        key["builder"] = builder
    if engine.mode() == "recorded":
        return _replay(key, context)
    cli = buildkit_cli() if builder == "buildkit" else None
    if builder == "buildkit" and cli is None:
        raise LabError("No docker command-line client here can build with BuildKit.",
                       hint="install Debian's docker.io (its 20.10 client builds with BuildKit when "
                            "DOCKER_BUILDKIT=1) or the buildx plugin; or build with builder='classic'.")
    all_labels = dict(engine.labels() if labels is None else labels)
    with recording.capture() as printed, engine.operation():
        prepared = bases.prepare(df_path, buildargs, quiet=quiet)
        try:
            for original, sub in prepared.substitutions.items():
                if not quiet:
                    print(f"[labutils] {original} is not on this engine and no registry answered: "
                          f"building with the offline stand-in {sub} instead "
                          f"(a rewritten copy; {df_path.name} is unchanged).", flush=True)
            if cli:
                result = _buildkit(cli, context, tag, prepared, df_path, target, nocache, buildargs, quiet,
                                   all_labels)
            else:
                result = _stream(context, tag, prepared, df_path, target, nocache, buildargs, quiet, all_labels)
        finally:
            prepared.cleanup()
    if engine.LABEL in all_labels:
        recording.store("build", key, _encode(result), printed.getvalue())
    return result


def _inputs(context: Path, df_path: Path) -> dict[str, str]:
    """Digests of what the build reads: the Dockerfile and the context files it COPYs or ADDs."""
    parser = DockerfileParser(fileobj=io.BytesIO(df_path.read_bytes()))
    names = []
    for insn in parser.structure:
        if insn["instruction"] not in ("COPY", "ADD"):
            continue
        value = insn["value"].strip()
        words = json.loads(value) if value.startswith("[") else value.split()
        if any(w.startswith("--from=") for w in words):
            continue
        names += [w for w in words if not w.startswith("--")][:-1]
    files = recording.files_digest(context, names)
    files[df_path.name] = recording.digest(df_path.read_bytes())
    return files


def _encode(r: BuildResult) -> dict:
    return {"tag": r.tag, "image_id": r.image_id, "size": r.size, "seconds": r.seconds,
            "steps": [{"number": s.number, "instruction": s.instruction, "seconds": s.seconds,
                       "cached": s.cached, "output": s.output, "stage": s.stage} for s in r.steps],
            "log": r.log, "dockerfile": r.dockerfile, "target": r.target,
            "substitutions": dict(r.substitutions), "builder": r.builder, "finished": r.finished,
            "attrs": dict(r.attrs)}


def _replay(key: dict, context: Path) -> BuildResult:
    replay = recording.replay()
    what = f"build of {key['tag']} from {key['dockerfile']}"
    try:
        entry = replay.answer("build", key, what)
    except recording.RecordingMissing:
        replay.tags[key["tag"]] = None
        raise
    a = entry["answer"]
    result = BuildResult(tag=a["tag"], image_id=a["image_id"], size=a["size"], seconds=a["seconds"],
                         steps=tuple(Step(**s) for s in a["steps"]), log=a["log"],
                         dockerfile=a["dockerfile"], target=a["target"], substitutions=a["substitutions"],
                         builder=a["builder"], finished=a["finished"], attrs=a["attrs"],
                         recorded=replay.label)
    replay.tags[key["tag"]] = result.image_id
    results.record("build", result.tag, exercise=context.name, seconds=result.seconds, size_bytes=result.size,
                   steps_run=result.steps_run, steps_cached=result.steps_cached, builder=result.builder)
    return result


def _command(tag, df_path, context, target) -> str:
    parts = ["docker build", "-t", tag]
    if df_path.name != "Dockerfile":
        parts += ["-f", df_path.name]
    if target:
        parts += ["--target", target]
    return " ".join(parts + [str(context)])


def _stream(context, tag, prepared, df_path, target, nocache, buildargs, quiet, labels) -> BuildResult:
    api = engine.api()
    command = _command(tag, df_path, context, target)
    clock, lines, image_id, error = _StepClock(), [], None, None
    pending = ""
    start = time.perf_counter()
    try:
        stream = api.build(path=str(context), tag=engine.ref(tag), dockerfile=str(prepared.path),
                           target=target, nocache=nocache, buildargs=dict(buildargs or {}),
                           labels=labels, rm=True, forcerm=True, decode=True)
        for chunk in stream:
            if "stream" in chunk:
                pending += chunk["stream"]
                *complete, pending = pending.split("\n")
                for text in complete:
                    lines.append(text)
                    clock.line(text, time.perf_counter())
                    if not quiet:
                        print(text, flush=True)
            elif "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
            elif "error" in chunk:
                error = chunk.get("errorDetail", {}).get("message") or chunk["error"]
            elif "status" in chunk and not quiet:
                print(chunk["status"], flush=True)
    except APIError as exc:
        error = exc.explanation or str(exc)
    except KeyboardInterrupt:
        raise
    if pending:
        lines.append(pending)
        clock.line(pending, time.perf_counter())
    wall = time.perf_counter() - start
    log = "\n".join(lines)
    if error is not None:
        failing = clock.failing()
        where = (f" at step {failing['number']}/{clock.total}: {failing['instruction']}"
                 if failing else "")
        tail = "\n".join((failing["lines"] if failing else lines)[-12:])
        raise BuildFailed(f"Building {tag} failed{where}.", command=command,
                          step=failing["number"] if failing else None,
                          instruction=failing["instruction"] if failing else None,
                          log=log, log_tail=tail, engine_said=error.strip(),
                          hint=_hint(error, target))
    clock.close(time.perf_counter())
    image = engine.client().images.get(engine.ref(tag))
    result = BuildResult(tag=tag, image_id=image_id or image.id, size=image.attrs["Size"],
                         seconds=wall, steps=tuple(clock.steps), log=log,
                         dockerfile=df_path.name, target=target,
                         substitutions=dict(prepared.substitutions),
                         finished=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                         attrs=image.attrs)
    if engine.LABEL in labels:
        results.record("build", tag, exercise=context.name, seconds=wall, size_bytes=result.size,
                       steps_run=result.steps_run, steps_cached=result.steps_cached,
                       builder=result.builder)
    if not quiet:
        print(f"[labutils] {tag}: {human_size(result.size)} in {wall:.1f} s", flush=True)
    return result


# --- BuildKit, through the docker CLI ----------------------------------------

_VERTEX = re.compile(r"^#(\d+) \[(?P<label>[^\]]+)\] (?P<text>.*)$")
_DONE = re.compile(r"^#(\d+) DONE (\d+(?:\.\d+)?)s$")
_CACHED = re.compile(r"^#(\d+) CACHED$")
_ERROR = re.compile(r"^#(\d+) ERROR:? ?(.*)$")
_OUTPUT = re.compile(r"^#(\d+) (?:\d+\.\d+ )?(.*)$")
_WROTE = re.compile(r"writing image (sha256:[0-9a-f]{64})")
_STEP_LABEL = re.compile(r"^(?:(?P<stage>\S+) )?(?P<n>\d+)/(?P<of>\d+)$")


@lru_cache(maxsize=None)
def buildkit_cli() -> str | None:
    """A docker CLI that builds with BuildKit: a client before 23.0 (built in, with
    DOCKER_BUILDKIT=1) or a newer one with the buildx plugin; None if there is none."""
    seen = []
    for candidate in (shutil.which("docker"), "/usr/bin/docker", "/usr/local/bin/docker"):
        if not candidate or candidate in seen or not Path(candidate).is_file():
            continue
        seen.append(candidate)
        try:
            out = subprocess.run([candidate, "--version"], capture_output=True, text=True, timeout=20).stdout
            major = int(re.search(r"version (\d+)\.", out).group(1))
            if major < 23:
                return candidate
            if subprocess.run([candidate, "buildx", "version"], capture_output=True, timeout=20).returncode == 0:
                return candidate
        except (OSError, AttributeError, ValueError, subprocess.SubprocessError):
            continue
    return None


class _Vertices:
    """BuildKit's plain progress, vertex by vertex: steps with stage, seconds and cache hits."""

    def __init__(self):
        self.order: list[str] = []
        self.v: dict[str, dict] = {}
        self.image_id = None

    def line(self, text: str) -> None:
        m = _VERTEX.match(text)
        if m and m.group(1) not in self.v:
            step = _STEP_LABEL.match(m.group("label"))
            self.v[m.group(1)] = {"step": bool(step), "stage": (step.group("stage") or "") if step else "",
                                  "instruction": m.group("text").strip(), "seconds": 0.0, "cached": False,
                                  "error": None, "lines": []}
            self.order.append(m.group(1))
            return
        wrote = _WROTE.search(text)
        if wrote:
            self.image_id = wrote.group(1)
        for pattern, apply in ((_DONE, lambda v, g: v.update(seconds=float(g))),
                               (_CACHED, lambda v, g: v.update(cached=True)),
                               (_ERROR, lambda v, g: v.update(error=g or "failed"))):
            m = pattern.match(text)
            if m and m.group(1) in self.v:
                apply(self.v[m.group(1)], m.group(2) if m.lastindex and m.lastindex > 1 else None)
                return
        m = _OUTPUT.match(text)
        if m and m.group(1) in self.v and not text.split(" ", 2)[1].startswith("sha256:"):
            self.v[m.group(1)]["lines"].append(m.group(2))

    def steps(self) -> tuple[Step, ...]:
        out = []
        for key in self.order:
            v = self.v[key]
            if v["step"]:
                out.append(Step(len(out) + 1, v["instruction"], v["seconds"], v["cached"],
                                "\n".join(v["lines"]), v["stage"]))
        return tuple(out)

    def failing(self) -> dict | None:
        return next((self.v[k] for k in self.order if self.v[k]["error"]), None)


def _buildkit(cli, context, tag, prepared, df_path, target, nocache, buildargs, quiet, labels) -> BuildResult:
    cmd = [cli, "build", "--progress=plain", "-t", engine.ref(tag), "-f", str(prepared.path)]
    cmd += ["--target", target] if target else []
    cmd += ["--no-cache"] if nocache else []
    for k, v in (buildargs or {}).items():
        cmd += ["--build-arg", f"{k}={v}"]
    for k, v in labels.items():
        cmd += ["--label", f"{k}={v}"]
    cmd.append(str(context))
    env = dict(os.environ, DOCKER_BUILDKIT="1", DOCKER_CLI_HINTS="false",
               DOCKER_HOST=engine.engine_url().replace("http+unix://", "unix://"))
    vertices, lines = _Vertices(), []
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        for text in proc.stdout:
            text = text.rstrip("\n")
            lines.append(text)
            vertices.line(text)
            if not quiet:
                print(text, flush=True)
        proc.wait()
    except KeyboardInterrupt:
        proc.kill()
        proc.wait()
        raise
    wall = time.perf_counter() - start
    log = "\n".join(lines)
    command = _command(tag, df_path, context, target).replace("docker build", "DOCKER_BUILDKIT=1 docker build", 1)
    if proc.returncode != 0:
        failing = vertices.failing()
        said = (failing or {}).get("error") or next((t for t in reversed(lines) if t.strip()), "")
        where = f" at {failing['stage'] + ': ' if failing and failing['stage'] else ''}{failing['instruction']}" \
            if failing else ""
        tail = "\n".join((failing["lines"] if failing else lines)[-12:])
        raise BuildFailed(f"Building {tag} with BuildKit failed{where}.", command=command,
                          instruction=failing["instruction"] if failing else None, exit_code=proc.returncode,
                          log=log, log_tail=tail, engine_said=said.strip(), hint=_hint(said, target))
    image = engine.client().images.get(engine.ref(tag))
    result = BuildResult(tag=tag, image_id=vertices.image_id or image.id, size=image.attrs["Size"], seconds=wall,
                         steps=vertices.steps(), log=log, dockerfile=df_path.name, target=target,
                         substitutions=dict(prepared.substitutions), builder="buildkit",
                         finished=datetime.now(timezone.utc).isoformat(timespec="seconds"), attrs=image.attrs)
    if engine.LABEL in labels:
        results.record("build", tag, exercise=context.name, seconds=wall, size_bytes=result.size,
                       steps_run=result.steps_run, steps_cached=result.steps_cached, builder="buildkit")
    if not quiet:
        print(f"[labutils] {tag}: {human_size(result.size)} in {wall:.1f} s (BuildKit)", flush=True)
    return result
