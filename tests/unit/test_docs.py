"""The docs say what the code does: the generated reference is current, every setting read is declared, the
README stays short, and every link between the repository's pages leads somewhere."""
from __future__ import annotations

import ast
import re

from shared import ROOT

from labutils.classroom.settings import CLASS_VARIABLES
from labutils.settings import VARIABLES
from tools import reference

_READ = re.compile(r"^(LABUTILS|CLASS)_[A-Z_]+$")


def test_the_reference_page_is_what_the_code_says():
    assert (ROOT / "docs" / "reference.md").read_text() == reference.render(), \
        "docs/reference.md is stale: run `python3 -m tools.reference`"


def test_every_variable_labutils_reads_is_declared_and_every_declared_one_is_read():
    read = set()
    for path in [*(ROOT / "labutils").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]:
        tree = ast.parse(path.read_text())
        declaring = {id(call.args[0]) for call in ast.walk(tree) if isinstance(call, ast.Call) and call.args
                     and getattr(call.func, "id", "") == "Variable"}       # the declarations are not reads
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _READ.match(node.value) \
                    and id(node) not in declaring:
                read.add(node.value)
    declared = {name.strip() for v in (*VARIABLES, *CLASS_VARIABLES) for name in v.name.split(",")}
    assert read - declared == set(), f"read but not in VARIABLES or CLASS_VARIABLES: {sorted(read - declared)}"
    assert declared - read == set(), f"declared but never read: {sorted(declared - read)}"


def test_the_readme_is_read_in_five_minutes_and_types_in_no_counts():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    counts = re.findall(r"\b\d+ (?:names|tests|test cases|modules|calls|cells)\b", text)
    assert not counts, f"counts typed in (they drift): {counts}"


def test_every_relative_link_of_the_readme_and_docs_leads_to_a_file():
    broken = []
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = (page.parent / target.split("#")[0]).resolve()
            if not path.exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken
