"""``build()``: build an image (classic builder or BuildKit), show each step, say what failed.

Taught in notebooks 01-04 (the lab's builds), 06 (both builders) and 07.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from labutils import bases, names
from labutils.backends import backend, on_reset
from labutils.docker import buildcontext, buildlog, platforms
from labutils.docker import dockerfile as dockerfile_reader
from labutils.errors import BuildFailed, InvalidArgument
from labutils.ops import runlog
from labutils.seam import BuildAnswer, BuildRequest
from labutils.settings import settings
from labutils.util import human_size


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
    """What one build made: the image, how long it took, and each step.

    ``size`` is the unpacked size: the image's files, as the graph driver
    (overlay2) counts them and as the book's figures are. On the containerd image
    store the engine also knows ``content_size`` (compressed: what is pushed and
    pulled) and ``total_size`` (both, what ``docker images`` shows there); they
    are None on a graph driver. ``store`` says which. ``diff_ids`` are the layers'
    digests; ``attrs`` keeps the inspect fields labutils read.
    """
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
    diff_ids: tuple[str, ...] = field(repr=False, default=())
    user: str = field(repr=False, default="")
    attrs: Mapping = field(repr=False, compare=False, default_factory=dict)
    recorded: str = field(repr=False, default="")
    """Empty for a live build; else when and on which Docker the replayed build was recorded."""
    content_size: int | None = field(repr=False, default=None)
    total_size: int | None = field(repr=False, default=None)
    store: str = field(repr=False, default="")
    platform: str | None = field(repr=False, default=None)
    """The ``platform=`` it was built for (``docker build --platform``); None: the engine's own."""

    @property
    def steps_cached(self) -> int:
        return sum(s.cached for s in self.steps)

    @property
    def steps_run(self) -> int:
        return sum(not s.cached for s in self.steps)

    @property
    def layer_count(self) -> int:
        """Filesystem layers of the image (``RootFS.Layers``)."""
        return len(self.diff_ids)

    def __repr__(self) -> str:
        return (f"BuildResult(tag={self.tag!r}, size={human_size(self.size)!r}, "
                f"steps={len(self.steps)}, seconds={self.seconds:.1f})")


def _hint(error: str, target: str | None) -> str:
    e = error.lower()
    if "returned a non-zero code" in e or "executor failed running" in e or "did not complete successfully" in e:
        return ("the command of this RUN step failed: read its output above (a Go compile "
                "error names the file, line and column), fix it, and build again.")
    if "copy failed" in e or "file not found in build context" in e or "no source files" in e or "not found" in e \
            and "checksum" in e:
        return ("a file that COPY names is not in the build context folder: check its name, "
                "that it was written there, and that .dockerignore does not exclude it.")
    if "parse error" in e or "unknown instruction" in e:
        return "fix the Dockerfile line the engine names (instruction spelling, arguments)."
    if "target" in e and target:
        return f"--target {target!r} names no stage: use a name from a `FROM ... AS <name>` line."
    if "pull access denied" in e or "not found" in e and "manifest" in e:
        return "the FROM image cannot be had: run `python -m labutils bases --offline`."
    return "read the engine's answer and the output above, fix the Dockerfile or sources, and build again."


def shown_path(path: Path) -> str:
    """A folder as a learner names it: relative to the folder that holds work/ (``work/normal-build``)."""
    try:
        return str(Path(path).resolve().relative_to(settings().work.resolve().parent))
    except ValueError:
        return str(path)


def _command(tag, df_path: Path, context: Path, target, builder: str, platform: str | None = None) -> str:
    parts = ["DOCKER_BUILDKIT=1 docker build" if builder == "buildkit" else "docker build", "-t", tag]
    if platform:
        parts += ["--platform", platform]
    if df_path.name != "Dockerfile":
        parts += ["-f", df_path.name]
    if target:
        parts += ["--target", target]
    return " ".join(parts + [shown_path(context)])


def _dockerfile(context: Path, dockerfile) -> Path:
    if not context.is_dir():
        raise InvalidArgument(f"The build context {context} is not a folder.",
                       hint="pass the folder that holds the Dockerfile and the files it copies.")
    df_path = Path(dockerfile) if dockerfile else Path("Dockerfile")
    df_path = df_path if df_path.is_absolute() else context / df_path
    if not df_path.is_file():
        inside = sorted(p.name for p in context.iterdir())
        raise InvalidArgument(f"There is no Dockerfile at {df_path}.",
                       hint=("the build context is empty: write the lab's files into it first." if not inside else
                             f"the folder holds {inside}; pass dockerfile= with the right name."))
    return df_path


def build(path, tag: str, dockerfile: str | None = None, target: str | None = None,
          nocache: bool = False, buildargs: Mapping[str, str] | None = None, *,
          quiet: bool = False, labels: Mapping[str, str] | None = None,
          builder: str = "classic", platform: str | None = None) -> BuildResult:
    """Build ``path`` as ``tag`` (``docker build -t tag [-f dockerfile] [--target] path``).

    Args:
        path: the build context folder.
        tag: the image name, as the lab names it (a namespace prefix is added on a shared engine).
        dockerfile, target, nocache, buildargs: as ``docker build``'s ``-f``, ``--target``,
            ``--no-cache`` and ``--build-arg``.
        quiet: print nothing while it builds (by default every line is printed as it arrives,
            steps numbered as in the learner's Dockerfile).
        builder: ``"classic"`` (the engine's API) or ``"buildkit"`` (a docker CLI with BuildKit).
        platform: as ``docker build --platform`` (``"linux/arm64"``): the platform of the image made. With
            BuildKit a Dockerfile can run its build stage on the build machine's platform
            (``FROM --platform=$BUILDPLATFORM``) and cross-compile for this one.

    Returns:
        BuildResult: the image, its size, each step's seconds and cache hit, and the log.

    Raises:
        BuildFailed: the build stopped; names the step, the engine's words and what to do.
        BaseImageUnavailable: a FROM image is neither here, pullable, nor has a stand-in.
        RecordingMissing: recorded mode, and the recording holds no build of these files.
        LabError: no such folder or Dockerfile, or an unknown builder.

    Example:
        >>> result = lu.build("work/multi-stage", "welcome-optimized:v1")
        >>> lu.human_size(result.size), result.steps[-1].instruction
    """
    plan = _plan(path, tag, dockerfile, target, nocache, buildargs, labels, builder, quiet, _checked_platform(platform, builder))
    if not quiet:
        print(f"$ {plan.command}", flush=True)
    prepared = bases.prepare(plan.df_path, buildargs, quiet=quiet, platform=plan.req.get("platform"))
    try:
        _say_bases(plan, prepared)
        answer, plan, log, total = _run(plan, prepared)
    finally:
        prepared.cleanup()
    return _finish(answer, plan, prepared.substitutions, log, total)


def _checked_platform(platform: str | None, builder: str) -> str | None:
    """``platform`` checked; several (``linux/amd64,linux/arm64``) only where one image can hold them; another
    platform than the engine's only with BuildKit (Docker 20.10's classic builder gives a FROM scratch stage
    the engine's own platform, and its next step fails)."""
    platform = platforms.checked(platform, several=True)
    if platform and builder == "classic" and platform != backend().describe()["os_arch"]:
        raise InvalidArgument(f"labutils builds for {platform}, not this engine's own platform, with BuildKit only.",
                              hint="pass builder='buildkit' (the classic builder is deprecated since Engine 23).")
    if platform and "," in platform:
        store = backend().describe()["store"]
        if builder != "buildkit" or store != "containerd":
            raise InvalidArgument(
                f"One build cannot make {platform} here: " + ("the classic builder builds one platform."
                if builder != "buildkit" else f"this engine keeps its images with the {store} graph driver, "
                "one platform per tag."), hint="build each platform under its own tag: lu.build_platforms(folder, "
                "tag, platforms) does so wherever it must (and makes one multi-platform image on the containerd store).")
    return platform


@dataclass(frozen=True)
class _Plan:
    """One build as asked: what the engine gets (``req``) and what the result and its errors name."""
    tag: str
    context: Path
    df_path: Path
    target: str | None
    builder: str
    quiet: bool
    command: str
    req: BuildRequest = field(repr=False)

    @property
    def logged(self) -> bool:
        return names.LABEL in self.req["labels"]

    def with_buildkit(self) -> _Plan:
        req: BuildRequest = {**self.req, "builder": "buildkit", "key": {**self.req["key"], "builder": "buildkit"}}
        return replace(self, builder="buildkit", req=req,
                       command=_command(self.tag, self.df_path, self.context, self.target, "buildkit",
                                        self.req.get("platform")))


def _plan(path, tag, dockerfile, target, nocache, buildargs, labels, builder, quiet, platform=None) -> _Plan:
    """Check what was asked (builder, folder, Dockerfile, target) and make the engine's request."""
    if builder not in ("classic", "buildkit"):
        raise InvalidArgument(f"builder={builder!r} is not a builder labutils knows.",
                              hint="use builder='classic' (the engine's API) or builder='buildkit' (through the "
                                   "docker CLI).")
    context = Path(path).resolve()
    df_path = _dockerfile(context, dockerfile)
    command = _command(tag, df_path, context, target, builder, platform)
    stages = dockerfile_reader.stage_names(df_path, buildargs)
    if target is not None and target.lower() not in {s.lower() for s in stages if s}:
        named = [s for s in stages if s]
        raise BuildFailed(f"Building {tag} cannot stop at target {target!r}: no stage has that name.",
                          command=command, hint=(f"use one of the stage names {named}." if named else
                                                 "this Dockerfile names no stages; add `AS <name>` to a FROM line."))
    all_labels = dict(names.labels() if labels is None else labels)
    if names.LABEL in all_labels:
        all_labels[names.REF_LABEL] = names.full_ref(tag)
    key = {"tag": tag, "dockerfile": df_path.name, "target": target, "nocache": bool(nocache),
           "buildargs": dict(buildargs or {}), "files": buildcontext.inputs(context, df_path)}
    if builder != "classic":
        key["builder"] = builder
    if platform:
        key["platform"] = platform
    req: BuildRequest = {"context": str(context), "tag": tag, "dockerfile": str(df_path), "target": target,
           "nocache": bool(nocache), "buildargs": dict(buildargs or {}), "labels": all_labels,
           "builder": builder, "platform": platform, "key": key, "replayable": names.LABEL in all_labels}
    return _Plan(tag, context, df_path, target, builder, quiet, command, req)


_announced: set[tuple[str, str]] = set()
"""The stand-ins this kernel has said it builds with: said once per notebook, not at every build."""
on_reset(_announced.clear)


def _say_bases(plan: _Plan, prepared) -> None:
    if plan.quiet:
        return
    for ref in prepared.pulled:
        print(f"[labutils] pulled {ref} from the registry; building on it as it is.", flush=True)
    for original, sub in prepared.substitutions.items():
        if (original, sub) in _announced:
            continue
        _announced.add((original, sub))
        print(f"[labutils] {original} is not on this engine and no registry answered: building with the "
              f"offline stand-in {sub} instead (a rewritten copy; {plan.df_path.name} is unchanged). Said once: "
              "every build in this notebook that names it does the same.", flush=True)


def _run(plan: _Plan, prepared) -> tuple[BuildAnswer, _Plan, str, int | None]:
    """The build on the engine (BuildKit where the engine refuses the classic builder); its log as numbered."""
    view = buildlog.ClassicView(labels=len(plan.req["labels"]), steps=dockerfile_reader.read(prepared.path).step_count) \
        if plan.builder == "classic" else None
    shown: list[str] = []          # the log as the learner's Dockerfile numbers it

    def on_line(text: str, t: float) -> None:
        line = view.line(text) if view else text
        if line is not None:
            shown.append(line)
            if not plan.quiet:
                print(line, flush=True)

    plan = replace(plan, req={**plan.req, "dockerfile": str(prepared.path)})
    answer = backend().build(plan.req, on_line)
    if _lost_snapshot(answer):
        if not plan.quiet:
            print("[labutils] the engine's containerd image store lost a parent snapshot while unpacking the image "
                  "(an intermittent engine bug, moby/buildkit#6521): building once more.", flush=True)
        shown.clear()
        answer = backend().build(plan.req, on_line)
    if plan.builder == "classic" and buildlog.refused(answer) and backend().has_buildkit():
        if not plan.quiet:
            print(f"[labutils] this engine refuses the classic builder ({str(answer['error']).strip()[:120]}); "
                  "building with BuildKit instead.", flush=True)
        plan, view = plan.with_buildkit(), None
        shown.clear()
        answer = backend().build(plan.req, on_line)
    return answer, plan, "\n".join(shown), view.total if view else None


def _lost_snapshot(answer: BuildAnswer) -> bool:
    """The containerd store's intermittent unpack failure, which the same build again gets past."""
    said = str(answer.get("error") or "")
    return "failed to prepare extraction snapshot" in said and "parent snapshot" in said


def _finish(answer: BuildAnswer, plan: _Plan, substitutions: dict, log: str, total: int | None) -> BuildResult:
    """The one ending of every build: parse the log into steps, raise or return, log the row, say the size."""
    tag, builder = plan.tag, plan.builder
    lines, times = answer["log"], answer["times"]
    if builder == "buildkit":
        raw_steps, failing = buildlog.buildkit_steps(lines)
    else:
        raw_steps, failing = buildlog.classic_steps(lines, times, answer["seconds"])
    steps = tuple(Step(s["number"], s["instruction"], s["seconds"], s["cached"], "\n".join(s["lines"]),
                       s.get("stage", "")) for s in raw_steps)
    if answer["error"] is not None:
        where = ""
        if failing:
            label = (f"{failing['stage']}: " if failing.get("stage") else "")
            where = (f" at step {failing['number']}/{total}: {failing['instruction']}" if "number" in failing
                     else f" at {label}{failing['instruction']}")
        tail = "\n".join((failing["lines"] if failing else lines)[-12:])
        raise BuildFailed(f"Building {tag}{' with BuildKit' if builder == 'buildkit' else ''} failed{where}.",
                          command=plan.command, step=(failing or {}).get("number"),
                          instruction=(failing or {}).get("instruction"), exit_code=answer.get("exit_code"),
                          log=log, log_tail=tail, engine_said=str(answer["error"]).strip(),
                          hint=_hint(str(answer["error"]), plan.target))
    image = answer["image"]
    assert image is not None, "a build without an error names its image"
    result = BuildResult(tag=tag, image_id=answer.get("image_id") or image["id"], size=image["size"],
                         content_size=image.get("content"), total_size=image.get("total"),
                         store=image.get("store", ""), platform=plan.req.get("platform"),
                         seconds=answer["seconds"], steps=steps, log=log, dockerfile=plan.df_path.name,
                         target=plan.target,
                         substitutions=dict(substitutions), builder=builder,
                         finished=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                         diff_ids=tuple(image["diff_ids"]), user=image["user"], attrs=image,
                         recorded=backend().describe()["label"])
    if plan.logged:
        runlog.log_row("build", tag, exercise=plan.context.name, seconds=result.seconds, size_bytes=result.size,
                       steps_run=result.steps_run, steps_cached=result.steps_cached, builder=builder,
                       content_bytes=result.content_size, store=result.store)
    if not plan.quiet:
        kit = " (BuildKit)" if builder == "buildkit" else ""
        print(f"[labutils] {tag}: {human_size(result.size)} in {result.seconds:.1f} s{kit}", flush=True)
    return result
