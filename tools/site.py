"""The course as a static site: ``make site`` (build, then check in Chromium).

    python3 -m tools.site build   # stage docs/*.md and notebooks/*.ipynb, sphinx-build into build/site/
    python3 -m tools.site check   # every page in headless Chromium: it renders, its images load, no link is broken,
                                  # and nothing is fetched from beyond this machine

The notebooks are shown with their stored outputs (a real run's); nothing is executed. A link from docs/ to a file
of the repository that is no page (a Dockerfile under data/) becomes a download of that file.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "build" / "site-src"
SITE = ROOT / "build" / "site"
_REPO_LINK = re.compile(r"\[([^\]]+)\]\(\.\./([^)#\s]+)\)")


def stage() -> Path:
    """build/site-src: docs/*.md as they are, the notebooks under notebooks/, repository files as downloads."""
    shutil.rmtree(SOURCE, ignore_errors=True)
    (SOURCE / "notebooks").mkdir(parents=True)
    for page in sorted((ROOT / "docs").glob("*.md")):
        text = page.read_text()

        def download(m: re.Match, page: Path = page) -> str:
            target = ROOT / m.group(2)
            if not target.is_file():
                raise SystemExit(f"{page.relative_to(ROOT)} links ../{m.group(2)}, which is not in the repository.")
            copy = SOURCE / "repo" / m.group(2)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(target, copy)
            return f"{{download}}`{m.group(1)} <repo/{m.group(2)}>`"

        (SOURCE / page.name).write_text(_REPO_LINK.sub(download, text))
    for nb in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")):
        shutil.copy2(nb, SOURCE / "notebooks" / nb.name)
    return SOURCE


def build() -> int:
    stage()
    shutil.rmtree(SITE, ignore_errors=True)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q", "-c", str(ROOT / "docs"),
           str(SOURCE), str(SITE)]
    proc = subprocess.run(cmd, cwd=ROOT)
    if proc.returncode:
        print("make site: sphinx-build reported the problems above (warnings count as errors).", file=sys.stderr)
        return proc.returncode
    pages = sorted(SITE.rglob("*.html"))
    print(f"make site: {len(pages)} pages in {SITE.relative_to(ROOT)}/ (open index.html)")
    return 0


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _serve(folder: Path):
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def check(site: Path = SITE, chromium: str = "/usr/bin/chromium") -> list[str]:
    """Every HTML page of ``site`` in headless Chromium. Returns the problems (empty when the site is whole)."""
    from playwright.sync_api import sync_playwright
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                   if not p.relative_to(site).as_posix().startswith(("_static/", "_sources/")))
    if not pages:
        return [f"no pages in {site}: run `python3 -m tools.site build` first"]
    server = _serve(site)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    problems: list[str] = []
    linked: set[str] = set()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page()
            outside: list[str] = []

            def route(r):
                if r.request.url.startswith(base):
                    return r.continue_()
                outside.append(r.request.url)
                return r.abort()
            page.route("**/*", route)
            failed: list[str] = []
            page.on("requestfailed", lambda req: failed.append(req.url) if req.url.startswith(base) else None)
            page.on("response", lambda resp: failed.append(f"{resp.url} ({resp.status})")
                    if resp.status >= 400 and resp.url.startswith(base) else None)
            for rel in pages:
                outside.clear()
                failed.clear()
                resp = page.goto(base + rel, wait_until="load")
                if resp is None or resp.status != 200:
                    problems.append(f"{rel}: answered {resp.status if resp else 'nothing'}")
                    continue
                if not page.locator("main h1, article h1").count():
                    problems.append(f"{rel}: no heading rendered")
                broken_images = page.eval_on_selector_all(
                    "img", "els => els.filter(e => !(e.complete && e.naturalWidth > 0)).map(e => e.src)")
                problems += [f"{rel}: image does not load: {src}" for src in broken_images]
                problems += [f"{rel}: loads a file that is not there: {url}" for url in failed]
                problems += [f"{rel}: fetches from beyond this machine: {url}" for url in outside]
                for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
                    if href.startswith(("mailto:", "javascript:")) or urlsplit(href).scheme in ("http", "https"):
                        continue
                    target, anchor = urldefrag(urljoin(base + rel, href))
                    linked.add(target + ("#" + anchor if anchor else ""))
            for url in sorted(linked):
                target, anchor = urldefrag(url)
                path = site / target[len(base):]
                if target.endswith("/"):
                    path = path / "index.html"
                if not path.is_file():
                    problems.append(f"a link leads nowhere: {target[len(base):]}")
                elif anchor and path.suffix == ".html":
                    if f'id="{anchor}"' not in path.read_text(errors="replace"):
                        problems.append(f"a link's anchor is not on its page: {target[len(base):]}#{anchor}")
            browser.close()
    finally:
        server.shutdown()
    return problems


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m tools.site", description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["build", "check"])
    args = p.parse_args(argv)
    if args.what == "build":
        return build()
    problems = check()
    for line in problems:
        print(line)
    print("make site: every page renders, its images load, no link is broken, nothing fetched from outside"
          if not problems else f"make site: {len(problems)} problem(s) above")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
