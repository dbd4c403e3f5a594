"""`make lab` in a real browser: JupyterLab started as `make lab` starts it, the first exercise run from the UI.

Debian's Chromium, driven by Playwright with the system browser (never a downloaded one).
Skipped only where no Chromium is installed, and never in CI (LABUTILS_REQUIRE_ENGINE=1).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from contextlib import contextmanager

import nbformat
import pytest
import requests
from shared import CHROMIUM, ROOT, run_in_page, skip_or_fail

from tools.labserver import make_lab  # the repository's root is on the path (its conftest.py)

pytestmark = [pytest.mark.engine, pytest.mark.browser]


@pytest.fixture
def chromium():
    if CHROMIUM is None:
        skip_or_fail("no Chromium here (CI installs Debian's chromium: apt-get install chromium)")
    return CHROMIUM


def test_make_lab_runs_the_first_exercise_in_chromium(live, chromium, tmp_path):
    notebooks = tmp_path / "notebooks"                  # a copy: JupyterLab's autosave must not touch the repository
    shutil.copytree(ROOT / "notebooks", notebooks)
    env = dict(os.environ, LABUTILS_WORK=str(tmp_path / "work"), LABUTILS_MODE="live")
    launch = dict(token="labutils-browser-test", make_args=(f"NOTEBOOK_DIR={notebooks}",),
                  lab_args="--ServerApp.open_browser=False --LabApp.expose_app_in_browser=True")
    with make_lab(ROOT, env, **launch) as lab:
        _run_the_first_exercise(lab, chromium, tmp_path)
    # the layout is kept under the learner's work/, not ~/.jupyter: started again, the lab is where they left off
    assert list((tmp_path / "work" / "jupyterlab-workspaces").glob("*.jupyterlab-workspace")), "no layout kept in work/"
    with make_lab(ROOT, env, **launch) as lab, _opened(lab, chromium, "started again") as page:
        again = _current_notebook(page)
    assert again == "01-normal-build.ipynb", f"started again, the lab opened {again!r}, not where the learner left off"


@contextmanager
def _opened(lab, chromium, when: str = "started"):
    """A headless Chromium page on the lab's start URL, once JupyterLab answers; closed on exit."""
    from playwright.sync_api import sync_playwright
    if not lab.answers("/api/status", timeout=180, every=1):
        pytest.fail(f"JupyterLab, {when}, did not answer within 180 s")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{lab.base}/?token={lab.token}")
            yield page
        finally:
            browser.close()


def _current_notebook(page) -> str:
    """The path of the notebook JupyterLab shows once it has restored its layout."""
    page.wait_for_function("() => window.jupyterapp", timeout=120_000)
    page.evaluate("async () => { await window.jupyterapp.restored; }")
    page.wait_for_selector(".jp-Notebook >> visible=true", timeout=120_000)
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget?.context?.path", timeout=120_000)
    return page.evaluate("() => window.jupyterapp.shell.currentWidget.context.path")


def _run_the_first_exercise(lab, chromium, tmp_path):
    base, token = lab.base, lab.token
    shot = tmp_path / "work" / "make-lab-01-normal-build.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    with _opened(lab, chromium) as page:
        # the course opens on 00-setup, and no "Jupyter news?" prompt covers it (jupyter/lab-settings)
        opened = _current_notebook(page)
        news = requests.get(f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification?token={token}",
                            timeout=10).json()["schema"]["properties"]["fetchNews"]["default"]
        page.wait_for_timeout(8_000)       # JupyterLab asks a few seconds after it starts, when it asks
        prompts = page.get_by_text("official Jupyter news").count()
        page.goto(f"{base}/lab/tree/01-normal-build.ipynb?token={token}")
        text = run_in_page(page, "01-normal-build.ipynb")
        page.keyboard.press("Control+End")
        page.screenshot(path=str(shot), full_page=False)
    assert opened == "00-setup.ipynb", f"make lab opened {opened!r}, not the course's first notebook"
    assert news == "false" and prompts == 0, f"the news prompt is shown ({news}, {prompts})"
    assert "✔ welcome:v1 prints the welcome line" in text, f"the notebook's outputs: {text[-1500:]!r}"
    assert "✔ the normal build ships the whole Go toolchain" in text
    assert shot.stat().st_size > 20_000
    kept = ROOT / "work" / shot.name
    kept.parent.mkdir(exist_ok=True)
    shutil.copy(shot, kept)                             # the screenshot is kept under work/




def test_a_learner_types_the_403_commands_in_jupyterlabs_terminal(live, chromium, tmp_path):
    """Exercise 4.03 as the book has it: the learner's Dockerfile, the commands typed key by key in JupyterLab's
    terminal (the lab's root is the course folder, as `make lab` and the class start it), then the check cell."""
    course = tmp_path / "course"
    shutil.copytree(ROOT / "notebooks", course / "notebooks")
    yours = course / "work" / "yours" / "multi-stage"              # what the learner wrote in the editor
    yours.mkdir(parents=True)
    for name in ("welcome.go", "Dockerfile"):
        shutil.copy(ROOT / "data" / "exercises" / "multi-stage" / name, yours / name)
    check = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        'import labutils as lu\nyours = lu.check("multi-stage")\nyours.checkpoint()')],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(check, course / "check.ipynb")
    env = dict(os.environ, LABUTILS_WORK=str(course / "work"), LABUTILS_MODE="live")
    env.pop("LABUTILS_NAMESPACE", None)
    subprocess.run(["docker", "image", "rm", "-f", "welcome-optimized:yours"], env=env, capture_output=True)
    typed = ["python -m labutils bases --book-names",       # 00-setup's one step where the bases are stand-ins
             "cd work/yours/multi-stage",
             "docker build -t welcome-optimized:yours .",
             "docker run welcome-optimized:yours",
             "docker image ls welcome-optimized",
             "python -m labutils check multi-stage; echo $? > ../../checked"]
    launch = dict(token="labutils-terminal-test", make_args=(f"NOTEBOOK_DIR={course}",),
                  lab_args="--ServerApp.open_browser=False --LabApp.expose_app_in_browser=True")
    try:
        with make_lab(ROOT, env, **launch) as lab, _opened(lab, chromium) as page:
            assert _current_notebook(page) == "notebooks/00-setup.ipynb"   # the course opens where make lab opens it
            page.evaluate("""async () => {
                const term = await window.jupyterapp.commands.execute('terminal:create-new');
                window.jupyterapp.shell.activateById(term.id);
            }""")
            page.wait_for_selector(".jp-Terminal .xterm-screen >> visible=true", timeout=60_000)
            page.wait_for_timeout(3_000)      # its websocket and the shell's first prompt (xterm draws on a canvas)
            page.click(".jp-Terminal .xterm-screen >> visible=true")
            for line in typed:
                page.keyboard.type(line, delay=5)
                page.keyboard.press("Enter")
            deadline = time.monotonic() + 600
            while not (course / "work" / "checked").exists() and time.monotonic() < deadline:
                page.wait_for_timeout(1_000)
            page.screenshot(path=str(course / "work" / "terminal-4.03.png"))
            checked = course / "work" / "checked"
            assert checked.exists(), f"the typed commands did not finish: see {course / 'work' / 'terminal-4.03.png'}"
            assert checked.read_text().strip() == "0", "python -m labutils check multi-stage exited non-zero"
            page.goto(f"{lab.base}/lab/workspaces/check/tree/check.ipynb?token={lab.token}")   # a layout of its own
            text = run_in_page(page, "check.ipynb")
        assert "✔ your engine holds welcome-optimized:yours" in text, text[-1500:]
        assert "✔ your multi-stage passes every check" in text, text[-1500:]
        assert "Checkpoint failed" not in text, text[-1500:]
        assert lu_image_exists("welcome-optimized:yours"), "the image the terminal built is on the engine"
    finally:
        listed = subprocess.run(["docker", "ps", "-a", "--format", "{{.ID}} {{.Image}}"], env=env,
                                capture_output=True, text=True).stdout.splitlines()
        ids = [row.split()[0] for row in listed if row.endswith(" welcome-optimized:yours")]
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], env=env, capture_output=True)
        subprocess.run(["docker", "image", "rm", "-f", "welcome-optimized:yours"], env=env, capture_output=True)
        subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "labutils", "bases", "--no-book-names"],
                       env=env, capture_output=True)


def lu_image_exists(tag: str) -> bool:
    import labutils as lu
    return lu.image_exists(tag)
