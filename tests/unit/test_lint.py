"""lint(): hadolint's findings as a table (no engine needed)."""
from __future__ import annotations

import pytest
from shared import EXERCISES

import labutils as lu

KNOWN = """FROM alpine:latest
RUN apt-get update
RUN apt-get install -y curl
"""


def test_known_findings_with_rule_line_and_level(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text(KNOWN)
    findings = lu.lint(path)
    assert list(findings.columns) == ["rule", "line", "level", "message"]
    got = set(zip(findings["rule"], findings["line"], strict=True))
    assert {("DL3007", 1), ("DL3008", 3), ("DL3015", 3), ("DL3059", 3)} <= got
    assert findings.set_index("rule").loc["DL3007", "level"] == "warning"
    assert "latest" in findings.set_index("rule").loc["DL3007", "message"]
    assert (tmp_path / "Dockerfile").read_text() == KNOWN, "lint never changes the file"


def test_ignore_and_clean_files(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text("FROM alpine:3.12\nCMD [\"id\"]\n")
    assert lu.lint(path).empty
    path.write_text(KNOWN)
    rules = set(lu.lint(path, ignore=("DL3007",))["rule"])
    assert "DL3007" not in rules and {"DL3008", "DL3015"} <= rules, "only the ignored rule goes"


def test_the_labs_intro_draws_only_the_latest_warning():
    [intro] = lu.exercise_files("multi-stage-intro/Dockerfile")
    assert list(lu.lint(intro)["rule"]) == ["DL3007"]
    assert lu.lint(EXERCISES / "best-practices" / "Dockerfile.lint-clean").empty


def test_bad_input(tmp_path):
    with pytest.raises(lu.LabError, match="no Dockerfile"):
        lu.lint(tmp_path / "missing")
    broken = tmp_path / "Dockerfile"
    broken.write_text("FROM alpine:3.12\nRUNN echo\n")
    assert "DL1000" in set(lu.lint(broken)["rule"]), "a parse error is reported as hadolint's DL1000"
