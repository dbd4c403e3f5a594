"""The instructor's view of a class on one shared engine: ``python -m labutils class``.

For every namespace (learner) that has lab images on the engine, and every
exercise, it lists the lab's reference image and the learner's own ("your
turn") image: whether each exists, its size, when it was built, and whether it
runs (or serves) as the lab says. It reads only what the engine holds (images
and their labels) and runs the images in the learner's namespace; it never
reads a learner's files.
"""
from __future__ import annotations

import tempfile
from contextlib import contextmanager

import pandas as pd

from labutils.backends import backend
from labutils.course.behaviour import behaves
from labutils.errors import LabError
from labutils.grading.checks import TASKS
from labutils.seam import LabImageRow
from labutils.settings import overridden
from labutils.util import human_size

COLUMNS = ["learner", "exercise", "whose", "image", "exists", "size", "size_bytes", "built", "works", "said"]
NO_NAMESPACE = "(no namespace)"


@contextmanager
def as_learner(namespace: str):
    """Run labutils calls in ``namespace`` (its images, its containers), writing nothing under anyone's work/."""
    with tempfile.TemporaryDirectory(prefix="labutils-class-") as tmp:
        with overridden(LABUTILS_NAMESPACE=namespace, LABUTILS_WORK=tmp):
            yield


def _works(tag: str, exercise: str, size: int, most: float | None) -> tuple[bool, str]:
    if most is not None and size >= most:
        return False, f"{human_size(size)}: the lab's image is under {human_size(most)}"
    try:
        b = behaves(tag, exercise, timeout=30)
        return b.ok, b.said
    except LabError as exc:
        return False, exc.message[:80]


def class_view(check: bool = True) -> pd.DataFrame:
    """One row per learner, exercise and image (the lab's reference and the learner's own).

    Args:
        check: run each image (serve the activity's) to see that it does what the lab says; False only lists.

    Returns:
        DataFrame with learner, exercise, whose, image, exists, size, size_bytes, built (UTC), works, said.

    Raises:
        EngineUnavailable: no engine answers (the class view needs the shared engine itself).
    """
    found = backend().lab_images()
    by_learner: dict[str, dict[str, LabImageRow]] = {}
    for img in found:
        by_learner.setdefault(img["namespace"], {})[img["name"]] = img
    rows = []
    for ns in sorted(by_learner):
        images = by_learner[ns]
        for task in TASKS.values():
            for whose, tag in (("reference", task.reference), ("yours", task.tag)):
                have = images.get(tag)
                row = {"learner": ns or NO_NAMESPACE, "exercise": task.exercise, "whose": whose, "image": tag,
                       "exists": have is not None, "size": human_size(have["size"]) if have else "",
                       "size_bytes": have["size"] if have else None,
                       "built": have["created"][:19].replace("T", " ") if have else "", "works": None, "said": ""}
                if have is not None and check:
                    with as_learner(ns):
                        row["works"], row["said"] = _works(tag, task.exercise, have["size"], task.max_size)
                rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def grid(view: pd.DataFrame) -> pd.DataFrame:
    """Learners × exercises, on the scale ``STATUS``: the learner's own image where there is one, else the reference."""
    def status(group: pd.DataFrame) -> str:
        if group["exists"].isna().all():
            return "stopped"
        built = group[group["exists"].fillna(False).astype(bool)]
        if built.empty:
            return "not built"
        row = built[built["whose"] == "yours"].iloc[0] if (built["whose"] == "yours").any() else built.iloc[0]
        if row["works"] is not None and not row["works"]:
            return "fails"
        return "yours works" if row["whose"] == "yours" else "reference works"
    if view.empty:
        return pd.DataFrame(columns=list(TASKS))
    out = view.groupby(["learner", "exercise"], sort=False).apply(status, include_groups=False).unstack("exercise")
    return out.reindex(columns=list(TASKS)).astype(object).fillna("not built")
