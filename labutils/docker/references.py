"""Image references as Docker writes them: ``[registry/][namespace/]repository[:tag|@digest]``."""
from __future__ import annotations


def split_ref(ref: str) -> tuple[str, str]:
    """``golang:1.15.6`` -> (``golang``, ``1.15.6``); digest refs keep their digest."""
    if "@" in ref:
        repo, digest = ref.split("@", 1)
        return repo, "@" + digest
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = ref.rsplit(":", 1)
        return repo, tag
    return ref, "latest"


def repository_name(ref: str) -> str:
    """The short repository name: ``docker.io/library/golang:1.15`` -> ``golang``."""
    return split_ref(ref)[0].rsplit("/", 1)[-1]
