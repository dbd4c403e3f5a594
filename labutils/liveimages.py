"""The live backend's base-image transfers: importing a root file system, saving and loading kits (live only)."""
from __future__ import annotations

from pathlib import Path

from . import dockerapi, engine
from .errors import LabError


class ImageTransfers:
    """Part of ``Live``: the calls that move whole images in and out of the engine."""

    def import_rootfs(self, archive: str, name: str, changes: list[str]) -> None:
        """``docker import`` of a root file system (the stand-in base images)."""
        repo, _, tag = name.rpartition(":")
        engine.client().api.import_image_from_file(archive, repository=repo, tag=tag, changes=changes)

    def save_images(self, names: list[str], path: Path) -> int:
        """``docker save`` of several images into one kit; bytes written."""
        written = 0
        with open(path, "wb") as fh:
            for chunk in dockerapi.export_images(names):
                fh.write(chunk)
                written += len(chunk)
        return written

    def load_images(self, path: Path) -> list[str]:
        """``docker load`` of a kit; the names loaded."""
        loaded = []
        with open(path, "rb") as fh:
            for chunk in engine.client().api.load_image(fh):
                if "error" in chunk:
                    raise LabError(f"The engine could not load {path}.", engine_said=chunk["error"],
                                   hint="check free disk space, and that the kit was copied completely.")
                text = chunk.get("stream", "").strip()
                if text.startswith("Loaded image:"):
                    loaded.append(text.split(":", 1)[1].strip())
        return loaded
