"""The class's trust rules without a hub (seconds): settings that stop a class, the state folder and its
secrets, what the class view accepts from a lab, the grades' CSV, the fence's rules and names, the preflight.

The same rules are tried end to end, from inside learners' labs on a real hub, in tests/classroom/test_class.py.
"""
from __future__ import annotations

import csv
import json
import os
import stat

import pandas as pd
import pytest

from labutils.classroom import fence
from labutils.classroom.settings import ClassError, ClassSettings
from labutils.classroom.view import Unfit, checked_progress, checked_rows, grades, write_grades
from labutils.grading.checks import TASKS


def settings(tmp_path, **env) -> ClassSettings:
    base = {"CLASS_STATE": str(tmp_path / "state"), "CLASS_CONFIG": str(tmp_path / "none.env")}
    saved = dict(os.environ)
    try:
        os.environ.update({**base, **env})
        return ClassSettings.read()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_settings_that_cannot_work_stop_the_class_before_anything_starts(tmp_path):
    assert settings(tmp_path).checked()
    with pytest.raises(ClassError, match="without TLS"):
        settings(tmp_path, CLASS_HOST="0.0.0.0").checked()
    assert settings(tmp_path, CLASS_HOST="0.0.0.0", CLASS_INSECURE="1").checked(), "the instructor's choice"
    assert settings(tmp_path, CLASS_HOST="0.0.0.0", CLASS_TLS_CERT="c.pem", CLASS_TLS_KEY="k.pem").checked()
    with pytest.raises(ClassError, match="8 characters"):
        settings(tmp_path, CLASS_CODE="short").checked()
    with pytest.raises(ClassError, match="not a size"):
        settings(tmp_path, CLASS_MEMORY="lots").checked()
    with pytest.raises(ClassError, match="not a number"):
        settings(tmp_path, CLASS_CPUS="two")


def test_the_state_folder_is_made_0700_and_one_open_to_others_or_a_link_is_refused(tmp_path):
    s = settings(tmp_path)
    folder = s.state_folder()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    folder.chmod(0o755)
    with pytest.raises(ClassError, match="mode 0755"):
        s.state_folder()
    folder.chmod(0o700)
    link = tmp_path / "link"
    link.symlink_to(folder)
    with pytest.raises(ClassError, match="link"):
        settings(tmp_path, CLASS_STATE=str(link)).state_folder()
    if os.geteuid() == 0:
        other = tmp_path / "other"
        other.mkdir(mode=0o700)
        os.chown(other, 1000, 1000)
        with pytest.raises(ClassError, match="belongs to uid 1000"):
            settings(tmp_path, CLASS_STATE=str(other)).state_folder()


def test_a_secret_is_made_0600_once_and_one_planted_open_to_others_is_refused(tmp_path):
    s = settings(tmp_path)
    first = s.secret("admin-password", 32)
    path = s.state / "admin-password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(first) >= 32
    assert s.secret("admin-password", 32) == first, "made once, then read"
    path.chmod(0o644)
    with pytest.raises(ClassError, match="0600"):
        s.secret("admin-password")
    path.unlink()
    path.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ClassError):
        s.secret("admin-password")
    assert not (tmp_path / "elsewhere").exists(), "a secret is never written through a link"


def _rows(**change) -> list[dict]:
    rows = [{"exercise": t.exercise, "whose": whose, "image": tag, "exists": True, "size": "2 MB",
             "size_bytes": 2_000_000, "built": "2026-12-07 10:00:00", "works": whose == "yours", "said": ""}
            for t in TASKS.values() for whose, tag in (("reference", t.reference), ("yours", t.tag))]
    rows[0].update(change)
    return rows


def test_the_class_view_takes_only_answers_that_fit_its_schema():
    assert len(checked_rows("noise\n" + json.dumps(_rows()))) == 2 * len(TASKS)
    from labutils.classroom.shared_engine import COLUMNS
    as_the_lab_prints = pd.DataFrame(_rows(size_bytes=None, exists=False), columns=COLUMNS).to_json(orient="records")
    rows = checked_rows(as_the_lab_prints)           # class_view's own JSON: a size column with a gap is floats
    assert rows[1]["size_bytes"] == 2_000_000 and isinstance(rows[1]["size_bytes"], int)
    for bad in (json.dumps(_rows() * 2), json.dumps(_rows(exercise="rm -rf")), json.dumps(_rows(exists="yes")),
                json.dumps(_rows(said="x" * 301)), json.dumps(_rows(size_bytes=True)), json.dumps({"rows": []}),
                json.dumps(_rows(size_bytes=1.5)), json.dumps(_rows(size_bytes=-1.0)),
                "not json", json.dumps([{"exercise": "multi-stage"}] * 3)):
        with pytest.raises(Unfit):
            checked_rows(bad)
    assert checked_progress(json.dumps({"01": {"a": {"passed": True}, "b": {"passed": False}}})) == "1/2"
    assert checked_progress(json.dumps({"01": {"a": {"passed": True}, "b": {"passed": False, "state": "not attempted"}}})
                            ) == "1/2 (1 not attempted)"
    for bad in ("[]", "{", json.dumps({"01": []}), json.dumps({"01": {"a": {"passed": 1}}}),
                json.dumps({"01": {"a": "passed"}})):
        with pytest.raises(Unfit):
            checked_progress(bad)


def test_grades_come_out_as_a_gradebook_csv(tmp_path):
    ada = pd.DataFrame(_rows()).assign(learner="ada")
    bob = pd.DataFrame(_rows(works=False)).assign(learner="bob")
    bob.loc[bob["whose"] == "yours", "works"] = [False] + [True] * (len(TASKS) - 1)
    bob.loc[(bob["whose"] == "yours") & (bob["exercise"] == list(TASKS)[-1]), "exists"] = False
    cyd = pd.DataFrame(_rows()).assign(learner="cyd", exists=None, works=None)      # a stopped lab
    table = grades(pd.concat([ada, bob, cyd]))
    first, last = list(TASKS)[0], list(TASKS)[-1]
    assert set(table.loc["ada"]) == {"passed"}
    assert table.loc["bob", first] == "failed" and table.loc["bob", last] == "not attempted"
    assert set(table.loc["cyd"]) == {"not attempted"}
    path = write_grades(pd.concat([ada, bob, cyd]), tmp_path / "grades.csv")
    with path.open() as f:
        read = list(csv.reader(f))
    assert read[0] == ["learner", *TASKS] and [r[0] for r in read[1:]] == ["ada", "bob", "cyd"]


def test_the_fence_names_fit_linux_and_its_rules_drop_all_but_the_hub_and_registry(tmp_path):
    s = settings(tmp_path, CLASS_NAME="a-class-with-a-rather-long-name", CLASS_HUB_PORT="8081")
    name = fence.bridge_name(s.name, "a-learner-with-a-long-name@example.org")
    assert len(name) <= 15 and name.startswith(fence.bridge_prefix(s.name))
    assert fence.bridge_prefix(s.name) != fence.bridge_prefix("another-class"), "two classes, two fences"
    assert len(fence.chain(s.name)) + len("-FWD") <= 28, "iptables chain names are 28 characters at most"
    made = fence.rules(s, hub="172.17.0.1", registry="172.17.0.1:5000")
    assert made["IN"][-1] == ["-j", "DROP"] and made["FWD"][-1] == ["-j", "DROP"], "what is not allowed is dropped"
    allowed = [r for r in made["IN"] + made["FWD"] if r[-1] in ("ACCEPT", "RETURN") and "--ctstate" not in r]
    ports = sorted(r[r.index("--dport") + 1] if "--dport" in r else r[r.index("--ctorigdstport") + 1] for r in allowed)
    assert ports == ["5000", "5000", "8081"], f"only the hub's API and the registry: {allowed}"


def test_a_learners_disk_is_a_file_system_of_its_size_and_writing_past_it_is_enospc(tmp_path):
    """A real loop-mounted ext4 (root, as make class runs): ENOSPC inside, nothing outside it grows."""
    if os.geteuid() != 0:
        pytest.skip("loop mounts need root (make class runs as root)")
    from labutils.classroom import disks
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    try:
        paths = disks.ensure(state, "ada", "64m")
        assert set(paths) == {"work", "engine"} and all(p.stat().st_uid == 1000 for p in paths.values())
        assert os.path.ismount(disks.folder(state, "ada")), "mounted"
        assert disks.ensure(state, "ada", "64m") == paths, "a second start finds the same disk"
        with open(paths["work"] / "fill", "wb") as f, pytest.raises(OSError) as full:
            for _ in range(100):
                f.write(b"\0" * (1 << 20))
                f.flush()
                os.fsync(f.fileno())
        assert full.value.errno == 28, "ENOSPC"
        assert (state / "disks" / "ada.img").stat().st_blocks * 512 <= 70 << 20, "the image never grows past its size"
        assert disks.release(state) == ["ada"] and not os.path.ismount(disks.folder(state, "ada"))
        assert not (paths["work"] / "fill").exists(), "the files live in the image, not in the state folder"
        paths = disks.ensure(state, "ada", "64m")
        assert (paths["work"] / "fill").exists(), "mounted again, the learner's files are back"
    finally:
        disks.release(state)
    with pytest.raises(ValueError):
        disks.size_bytes("lots")
    assert disks.size_bytes("20g") == 20 << 30 and disks.size_bytes("512m") == 512 << 20


def test_the_labs_seccomp_profile_refuses_what_the_issue_names_and_keyctl_answers_enosys():
    """class/lab-seccomp.json as the hub hands it to Docker (the confinement itself is tried in a lab by
    tests/classroom/test_class.py::test_a_lab_runs_its_engine_with_the_least_it_needs)."""
    from labutils.settings import ROOT
    profile = json.loads((ROOT / "class" / "lab-seccomp.json").read_text())
    refused = {name: rule["errnoRet"] for rule in profile["syscalls"] if rule["action"] == "SCMP_ACT_ERRNO"
               for name in rule["names"]}
    for name in ("io_uring_setup", "io_uring_enter", "io_uring_register", "bpf", "userfaultfd", "perf_event_open",
                 "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "open_by_handle_at"):
        assert refused.get(name) == 1, f"{name} is refused with EPERM"
    assert refused["keyctl"] == 38, "keyctl answers ENOSYS (runc goes on without session keyrings)"
    for needed in ("unshare", "mount", "setns", "pivot_root", "clone", "umount2"):
        assert needed not in refused, f"the rootless engine needs {needed}"
