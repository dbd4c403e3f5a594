"""What the lab's images do, and the one check of it.

The welcome program prints ``WELCOME``; the activity's server answers ``PAGES``
(path -> heading). ``your_turn``, the class view, notebook 07's floors and
``run-all`` all ask ``behaves`` whether an image does what the lab says.
"""
from __future__ import annotations

from dataclasses import dataclass

from labutils.ops.containers import RunResult, run, serve

WELCOME = "Welcome to multi-stage Docker builds\n"
PAGES = {"/": "<h1>Home Page</h1>", "/contact": "<h1>Contact Us</h1>", "/login": "<h1>Login Page</h1>"}
SERVERS = {"activity"}                                  # exercises whose image serves PAGES
PRINTS = {"multi-stage-intro": "Hello World\n"}         # what the others print, WELCOME unless named here
# an image on the class view's scale (the class grid's colours follow it)
STATUS = ("stopped", "not built", "fails", "reference works", "yours works")   # the figure's scale, worst to best


@dataclass(frozen=True)
class Behaviour:
    """What an image did: ``ok`` when it is what the lab says; ``said`` in a few words."""

    ok: bool
    said: str
    bodies: dict[str, str] | None = None      # the server's answers, path -> body
    output: RunResult | None = None           # the program's run


def behaves(tag: str, exercise: str, timeout: float = 60) -> Behaviour:
    """Run ``tag`` (serve it, for the activity) and compare with what the lab says ``exercise``'s image does.

    Raises:
        LabError: the image could not be run or served (each subclass says why); callers decide what it means.
    """
    if exercise in SERVERS:
        with serve(tag, quiet=True) as server:
            bodies = {p: server.get(p).body for p in PAGES}
        wrong = [p for p in PAGES if bodies[p] != PAGES[p]]
        said = f"GET {wrong[0]} -> {bodies[wrong[0]][:60]!r}" if wrong else "serves the three pages"
        return Behaviour(not wrong, said, bodies=bodies)
    out = run(tag, timeout=timeout, quiet=True)
    ok = out.ok and out.stdout == PRINTS.get(exercise, WELCOME)
    return Behaviour(ok, f"exited {out.exit_code}, printed {(out.stdout or out.stderr).strip()[:60]!r}",
                     output=out)
