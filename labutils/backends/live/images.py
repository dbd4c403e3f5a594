"""The live backend's image listings (``docker image ls``, the class view's) and base-image transfers: importing a
root file system, saving and loading kits (live only)."""
from __future__ import annotations

from pathlib import Path

from labutils import names
from labutils.backends.live import dockerapi, engine, stores
from labutils.errors import LabError
from labutils.seam import ImageRow, LabImageRow


class ImageTransfers:
    """Part of ``Live``: the calls that list images, or move whole images in and out of the engine."""

    def _image(self, name: str):          # Live's
        raise NotImplementedError

    def images(self, tags: list[str], reference: str | None) -> list[ImageRow]:
        """Rows of ``docker image ls``: the named tags, else this namespace's labelled images."""
        if tags:
            found = [(t, self._image(t)) for t in tags]
        else:
            filters = {"label": names.LABEL, **({"reference": names.ref(reference)} if reference else {})}
            found = [(names.plain(name), img)
                     for img in engine.client().images.list(filters=filters) if names.owns(img.labels, img.tags)
                     for name in img.tags if name == img.labels.get(names.REF_LABEL)]
        return [{"name": name, "id": img.id, "size": stores.sizes((img.tags or [img.id])[0], img.attrs)["size"]}
                for name, img in found]

    def lab_images(self) -> list[LabImageRow]:
        """Every labelled image on the engine, of every namespace: the instructor's class view reads only these."""
        rows: list[LabImageRow] = []
        for img in engine.client().images.list(filters={"label": names.LABEL}):
            labels = img.labels or {}
            ns = labels.get(names.NAMESPACE_LABEL, "")
            for name in [t for t in img.tags or [] if t == labels.get(names.REF_LABEL)]:
                plain = name[len(ns) + 1:] if ns and name.startswith(ns + "/") else name
                rows.append({"namespace": ns, "name": plain, "id": img.id, "created": img.attrs.get("Created", ""),
                             "size": stores.sizes(name, img.attrs)["size"], "labels": dict(labels)})
        return rows


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
