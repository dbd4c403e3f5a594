"""`make site`: the course as a static site, built offline from the stored outputs and checked in Chromium."""
from __future__ import annotations

import shutil

import pytest
from shared import CHROMIUM, ROOT, skip_or_fail

from tools import site

pytestmark = pytest.mark.browser


def test_the_site_builds_and_every_page_renders_with_its_figures_and_links(tmp_path):
    if CHROMIUM is None:
        skip_or_fail("no Chromium (the site is checked in Debian's): apt-get install chromium")
    assert site.build() == 0
    pages = {p.relative_to(site.SITE).as_posix() for p in site.SITE.rglob("*.html")}
    notebooks = {f"notebooks/{p.stem}.html" for p in (ROOT / "notebooks").glob("[0-9]*.ipynb")}
    assert notebooks and notebooks <= pages, "a page per notebook"
    assert {"index.html", "learners.html", "instructors.html", "architecture.html", "reference.html"} <= pages
    summary = (site.SITE / "notebooks" / "06-summary.html").read_text()
    assert summary.count("<img") >= 2, "the summary's figures are on its page (stored outputs, not re-run)"
    assert site.check(chromium=CHROMIUM) == []
    # and the check sees a broken link and a missing figure where there are some
    broken = tmp_path / "site"
    shutil.copytree(site.SITE, broken)
    figure = next((broken / "_images").glob("*.png"))
    figure.unlink()
    index = broken / "index.html"
    index.write_text(index.read_text().replace('href="learners.html"', 'href="nowhere.html"'))
    problems = site.check(broken, chromium=CHROMIUM)
    assert any("nowhere.html" in p for p in problems) and any(figure.name in p for p in problems), problems
