"""nbval settings shared by both passes of `make test`.

In recorded mode every replayed answer adds a line on stderr saying it is
recorded (when, on which Docker). The stored outputs come from a live run and
have no such lines, so that pass compares everything but stderr.
"""
import os


def pytest_collectstart(collector):
    if collector.fspath and collector.fspath.ext == ".ipynb" and os.environ.get("LABUTILS_MODE") == "recorded":
        collector.skip_compare += ("stderr",)
