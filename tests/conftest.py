"""Shared fixtures: a real engine (skip only where allowed), lab files in a temp folder,
fresh labutils caches, and a check that no labelled container outlives a test."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from shared import EXERCISES, skip_or_fail
from yours import NS

import labutils as lu
from labutils import errors, names
from labutils.backends.live import engine

TEST_PREFIX = "lutest-"


@pytest.fixture(scope="module", autouse=True)
def private_results_log(tmp_path_factory):
    """Tests log their builds and runs to a work folder of their own, not the learner's work/."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABUTILS_WORK", str(tmp_path_factory.mktemp("work")))
        yield


@pytest.fixture(autouse=True)
def fresh_caches():
    """Every test starts and ends with no cached engine, mode or recording."""
    engine.reset_caches()
    yield
    engine.reset_caches()


def _labelled_containers(cli) -> set[str]:
    return {c.id for c in cli.containers.list(all=True, ignore_removed=True, filters={"label": names.LABEL})}


@pytest.fixture(scope="session")
def live():
    """The engine's client; without one, skip, or fail where CI requires it."""
    try:
        return engine.client()
    except errors.EngineUnavailable as exc:
        skip_or_fail(f"no Docker Engine: {exc.message}")


@pytest.fixture(autouse=True)
def no_container_left(request):
    """Every engine test must leave no labutils container behind. A class's tests (marked hub) make none on this
    engine, and run beside the other engine tests in `make test`: they do not count the others' containers."""
    if "engine" not in request.keywords or "hub" in request.keywords:
        yield
        return
    cli = request.getfixturevalue("live")
    before = _labelled_containers(cli)
    yield
    left = _labelled_containers(cli) - before
    assert not left, f"containers left behind: {left}"


@pytest.fixture
def exercise(tmp_path):
    """Copy one exercise folder of data/exercises into a fresh temp folder."""
    def copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(EXERCISES / name, dest)
        return dest
    return copy


@pytest.fixture(scope="module", autouse=True)
def remove_test_images(request):
    """After each module, the images the tests named lutest-... (not a class's module: it runs beside the others
    in `make test`, and the images are theirs)."""
    yield
    if any(request.node.iter_markers("hub")) or not engine.answers():
        return
    cli = engine.client()
    for img in cli.images.list():
        for tag in img.tags:
            if tag.startswith(TEST_PREFIX):
                try:
                    cli.images.remove(tag, force=True)
                except Exception:
                    pass


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A work folder of this test's own (LABUTILS_WORK), in a notebook named for the test."""
    monkeypatch.setenv("LABUTILS_WORK", str(tmp_path / "work"))
    monkeypatch.setenv("LABUTILS_NOTEBOOK", "test-notebook")
    return tmp_path / "work"


@pytest.fixture
def learner(work, monkeypatch, live):
    """A learner of a shared engine (LABUTILS_NAMESPACE): what the test builds is removed after it."""
    monkeypatch.setenv("LABUTILS_NAMESPACE", NS)
    yield work
    lu.clean()
