"""What labutils names and labels on an engine: a learner's namespace, and the labels that say what is labutils'.

Everything labutils makes carries ``LABEL``; on a shared engine, the learner's
namespace too. An image also names its own reference in ``REF_LABEL``: images
inherit their parent's labels, so only an image whose reference label names one
of its own tags is labutils' (someone's ``FROM welcome:v1`` is theirs, not ours).
"""
from __future__ import annotations

import os
import socket

from labutils.settings import settings

LABEL = "io.labutils.managed"
"""The one label every image and container labutils creates carries."""
NAMESPACE_LABEL = "io.labutils.namespace"
PID_LABEL = "io.labutils.pid"
HOST_LABEL = "io.labutils.host"
REF_LABEL = "io.labutils.ref"
"""On an image labutils built: the reference it was built as (an image built FROM it inherits it unchanged)."""

def namespace() -> str:
    """LABUTILS_NAMESPACE: a learner's own prefix on a shared engine ('' when unset).

    Raises:
        EngineUnavailable: the value cannot prefix an image name (says what can).
    """
    return settings().namespace


def labels() -> dict:
    """The labels of everything labutils makes: managed, and the namespace when one is set."""
    ns = namespace()
    return {LABEL: "true", **({NAMESPACE_LABEL: ns} if ns else {})}


def ref(name: str) -> str:
    """The engine's name for a lab image: ``welcome:v1``, or ``alice/welcome:v1`` in namespace alice."""
    ns = namespace()
    return f"{ns}/{name}" if ns and not name.startswith(ns + "/") else name


def plain(name: str) -> str:
    """The lab's name for an engine image name: the namespace prefix taken off."""
    ns = namespace()
    return name[len(ns) + 1:] if ns and name.startswith(ns + "/") else name


def mine(found_labels: dict | None) -> bool:
    """True for a labelled object of this namespace (no namespace: only objects without one)."""
    found = found_labels or {}
    return found.get(LABEL) == "true" and found.get(NAMESPACE_LABEL, "") == namespace()


def owner_labels() -> dict:
    """Labels that tie a container to this process, so a later start can reap it if the process dies."""
    return {**labels(), PID_LABEL: str(os.getpid()), HOST_LABEL: socket.gethostname()}


def full_ref(name: str) -> str:
    """``ref(name)`` with the tag Docker adds when none is given (``welcome`` is ``welcome:latest``)."""
    r = ref(name)
    return r if ":" in r.rsplit("/", 1)[-1] or "@" in r else r + ":latest"


def owns(found_labels: dict | None, tags) -> bool:
    """True when an image is labutils' own in this namespace: labelled, and its reference label names one of its
    tags (an image built FROM a labutils image inherits the labels, but not under that tag)."""
    found = found_labels or {}
    return mine(found) and found.get(REF_LABEL, "") in set(tags or [])
