"""The one Dockerfile reader: instructions, their flags and arguments, and the stages, read with dockerfile-parse.

Build inputs (``buildcontext``), base preparation (``bases.prepare``), the
classic builder's step count (``building``) and grading (``grading``,
``yourturn``) all read a Dockerfile here. Flags come first as Docker wants them
(``COPY --from=builder --chown=1:1 ["a b", "/x/"]``); the arguments are the JSON
form when the rest starts with ``[``, else the words.
"""
from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dockerfile_parse import DockerfileParser
from dockerfile_parse.parser import image_from

from labutils.errors import BuildFailed

_FLAG = re.compile(r"--([A-Za-z][A-Za-z0-9-]*)(?:=(\S*))?(?:\s+|$)")
STRICT_JSON = {"COPY", "ADD"}
"""Where a malformed JSON form is an error here (it names the line); elsewhere Docker reads it as the shell form."""


@dataclass(frozen=True)
class Instruction:
    name: str                                  # upper case: COPY, FROM, ...
    value: str                                 # everything after the name, continuation lines joined
    line: int                                  # 1-based, as an editor numbers it
    content: str = ""                          # the lines as written
    flags: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    json_form: bool = False

    def flag(self, name: str) -> str | None:
        """The value of ``--name=value`` (``""`` for a bare ``--name``), None when absent."""
        return self.flags.get(name)


@dataclass(frozen=True)
class Stage:
    base: str                                  # the FROM image as written (build args not expanded)
    alias: str                                 # "" when the stage has no AS name
    line: int
    instructions: tuple[Instruction, ...]


@dataclass(frozen=True)
class Dockerfile:
    path: Path
    instructions: tuple[Instruction, ...]

    @property
    def stages(self) -> list[Stage]:
        """Each FROM and the instructions up to the next (the FROM included)."""
        stages: list[Stage] = []
        for ins in self.instructions:
            if ins.name == "FROM":
                words = ins.args
                alias = words[2] if len(words) >= 3 and words[1].lower() == "as" else ""
                stages.append(Stage(words[0] if words else "", alias, ins.line, ()))
            if stages:
                last = stages[-1]
                stages[-1] = Stage(last.base, last.alias, last.line, last.instructions + (ins,))
        return stages

    @property
    def step_count(self) -> int:
        """The steps the classic builder runs: the instructions, less the ARGs before the first FROM."""
        names = [i.name for i in self.instructions]
        return len(names) - (names.index("FROM") if "FROM" in names else 0)

    def copies(self, *, from_context: bool | None = None) -> list[Instruction]:
        """COPY and ADD instructions; ``from_context`` True: only those without ``--from``, False: only with."""
        out = [i for i in self.instructions if i.name in ("COPY", "ADD")]
        if from_context is None:
            return out
        return [i for i in out if (i.flag("from") is None) == from_context]


def parser(path: Path, buildargs: Mapping[str, str] | None = None) -> DockerfileParser:
    """dockerfile-parse's parser of ``path`` in memory (the file is never written), build args applied."""
    return DockerfileParser(fileobj=io.BytesIO(Path(path).read_bytes()), build_args=dict(buildargs or {}))


def read(path: Path, buildargs: Mapping[str, str] | None = None) -> Dockerfile:
    """Every instruction of ``path`` (comments left out), flags and arguments split.

    Raises:
        BuildFailed: a COPY/ADD JSON form is malformed (names the line and what to write).
    """
    path = Path(path)
    found = []
    for entry in parser(path, buildargs).structure:
        if entry["instruction"] == "COMMENT":
            continue
        name, value = entry["instruction"].upper(), entry["value"]
        flags, args, is_json = _split(name, value, path, entry["startline"] + 1, entry["content"])
        found.append(Instruction(name, value, entry["startline"] + 1, entry["content"], flags, args, is_json))
    return Dockerfile(path, tuple(found))


def _split(name: str, value: str, path: Path, line: int, content: str) -> tuple[dict, tuple, bool]:
    rest, flags = value.strip(), {}
    while (m := _FLAG.match(rest)) is not None:
        flags[m.group(1).lower()] = m.group(2) or ""
        rest = rest[m.end():]
    if name == "FROM":
        return flags, tuple(rest.split()), False
    if rest.startswith("["):
        try:
            words = json.loads(rest)
            if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
                raise ValueError("not a list of strings")
            return flags, tuple(words), True
        except ValueError as exc:
            if name in STRICT_JSON:
                raise BuildFailed(f"Line {line} of {path.name} is not a valid {name}: `{content.strip()}` ({exc}).",
                                  instruction=f"{name} {value}",
                                  hint=f'write it as {name} ["source", "destination"] with the brackets and quotes '
                                       f'closed, or without brackets: {name} source destination.') from None
    return flags, tuple(rest.split()), False


def stage_names(path: Path, buildargs: Mapping[str, str] | None = None) -> list[str]:
    """Each stage's AS name ("" where it has none), as the builder sees it (build args applied)."""
    return [image_from(i["value"])[1] or "" for i in parser(path, buildargs).structure if i["instruction"] == "FROM"]
