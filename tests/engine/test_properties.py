"""Property: whatever COPY/ADD/FROM lines or build.sh lines a learner writes, ``build()`` and ``your_turn()``
end in a built image or a ``LabError`` (never another exception), and never read a path outside the context."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shared import ROOT, Opened, context_of, small_base

import labutils as lu
from labutils.grading import yourturn

pytestmark = pytest.mark.engine

SOURCES = st.sampled_from(["/", ".", "/a.txt", "a.txt", "./sub", "sub/*.txt", "*.txt", "*", "../outside/secret.txt",
                           "/../outside", "out", "out/secret.txt", "secret-link", "notes.md", "missing.txt",
                           "[a-z].txt", "sub/../a.txt", "//a.txt", "/etc/passwd", "a.txt/", "?.txt"])
FLAGS = st.sampled_from(["", "--chown=0:0 ", "--from=nowhere ", "--chmod=644 ", "--link "])
BASES = st.sampled_from(["scratch", "alpine:latest", "nosuchimage:v0", "", "scratch AS x", "alpine:latest AS"])


@st.composite
def dockerfiles(draw):
    lines = [f"FROM {draw(BASES)}"]
    for _ in range(draw(st.integers(1, 4))):
        verb = draw(st.sampled_from(["COPY", "ADD"]))
        srcs = draw(st.lists(SOURCES, min_size=1, max_size=3))
        if draw(st.booleans()):
            lines.append(f"{verb} {draw(FLAGS)}{' '.join(srcs)} /dst/")
        else:
            cut = draw(st.booleans())
            text = ", ".join(f'"{s}"' for s in srcs + ["/dst/"])
            lines.append(f"{verb} [{text[:-3] if cut else text + ']'}")
    return "\n".join(lines) + "\n"


def _freshcontext_of() -> tuple[Path, Path, Path]:
    tmp = Path(tempfile.mkdtemp(prefix="lutest-prop-"))
    ctx, outside = context_of(tmp)
    return tmp, ctx, outside


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dockerfiles())
def test_build_ends_in_an_image_or_a_lab_error(live, text):
    small_base()
    tmp, ctx, outside = _freshcontext_of()
    try:
        (ctx / "Dockerfile").write_text(text)
        with Opened(outside) as opened:
            try:
                lu.build(ctx, "lutest-prop:v1", quiet=True)
            except lu.LabError:
                pass
        assert not opened.seen, f"read outside the context: {opened.seen}"
    finally:
        shutil.rmtree(tmp)


SCRIPT_LINES = st.sampled_from([
    "docker image build -t welcome-builder:v1 -f Dockerfile.build .",
    "docker container create --name b welcome-builder:v1",
    "docker container cp b:/myapp/welcome .", "docker container cp b:/myapp/welcome ../../..",
    "docker container cp nobody:/x .", "docker container rm -f b", "docker image build -t welcome-runtime:v1 .",
    "rm welcome", "rm ../../outside/secret.txt", "rm /etc/hostname-not-there", "echo hi", "ls -la",
    "docker run --rm welcome-runtime:v1", "docker image build -t x -f ../../outside/secret.txt .",
    "docker image build", "'unclosed quote", "cd /", "docker container cp b:/etc/passwd /tmp/x",
])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                               HealthCheck.function_scoped_fixture])
@given(st.lists(SCRIPT_LINES, min_size=1, max_size=7))
def test_your_turn_runs_any_build_sh_safely(live, monkeypatch, lines):
    tmp, ctx, outside = _freshcontext_of()
    try:
        monkeypatch.setenv("LABUTILS_WORK", str(tmp / "work"))
        folder = yourturn.yours("builder-pattern")
        src = ROOT / "data/exercises/builder-pattern"
        for name in ("Dockerfile.build", "Dockerfile"):
            (folder / name).write_text((src / name).read_text())
        (folder / "build.sh").write_text("\n".join(lines) + "\n")
        before = (outside / "secret.txt").read_text()
        with Opened(outside) as opened:
            try:
                review = lu.your_turn("builder-pattern", quiet=True)
                assert isinstance(review.passed, bool)
            except lu.LabError:
                pass
        assert not opened.seen and (outside / "secret.txt").read_text() == before
    finally:
        lu.clean()
        shutil.rmtree(tmp)
