"""nbval settings shared by both passes of `make test`.

Recording and replay are per notebook: each notebook's kernel is told which
notebook it runs (LABUTILS_NOTEBOOK), as `python -m labutils record` does.
In recorded mode every replayed answer adds a line on stderr saying it is
recorded (when, on which Docker). The stored outputs come from a live run and
have no such lines, so that pass compares everything but stderr.
"""
import os

import pytest


def pytest_collectstart(collector):
    if collector.fspath and collector.fspath.ext == ".ipynb" and os.environ.get("LABUTILS_MODE") == "recorded":
        collector.skip_compare += ("stderr",)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    path = getattr(item, "fspath", None)
    if path is not None and path.ext == ".ipynb":
        os.environ["LABUTILS_NOTEBOOK"] = path.purebasename
