"""Reader for generic image folders: ``images/`` + ``masks/`` with matching file stems.

Accepted layouts (png, jpg, tif, bmp; 8- or 16-bit; grey or RGB, converted to grey)::

    ROOT/images/<stem>.*  ROOT/masks/<stem>.*        masks optional (unlabelled images)
    ROOT/images/<stem>.*  ROOT/masks/0/<stem>.*      the segmentation-benchmark layout (class 0)
    ROOT/<group>/images/...                          several such folders; split=<group> picks one

Splits: ``split`` selects ROOT/imagesets/<split>.txt, ROOT/<split>.txt or ROOT/*_<split>.txt
(one stem per line) when present, else the group folder of that name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cathx.data.formats.base import Reader, read_split_listing
from cathx.data.formats.imageio import drop_image_suffix, read_image_and_mask
from cathx.data.formats.pairing import pair_by_stem
from cathx.errors import DataError
from cathx.structures import Sample

IMAGES_DIR = "images"
MASKS_DIR = "masks"


@dataclass
class _Pair:
    key: str
    group: str
    image_path: Path
    mask_path: Path | None


class FolderReader(Reader):
    """Lazy reader of images/ + masks/ folders (see module docstring for the layouts)."""

    name = "folder"
    folder_only = f"a folder with {IMAGES_DIR}/ and {MASKS_DIR}/"

    def __init__(self, root: Path | str, split: str | None = None) -> None:
        super().__init__(root, split)
        root = self.root
        groups = self._groups(root, split)
        listing = self._split_listing(root, split) if split is not None else None
        if split is not None and listing is None and not any(g.name == split for g in groups):
            names = sorted({g.name for g in groups if g != root})
            raise DataError(
                f"{root}: no split {split!r} (no imagesets/{split}.txt, {split}.txt or folder {split}/)"
                + (f"; groups found: {', '.join(names)}" if names else "")
            )
        if split is not None and listing is None:
            groups = [g for g in groups if g.name == split]
        self._pairs: list[_Pair] = []
        self._seen: set[str] = set()  # every image stem found, including skipped ones
        for group in groups:
            self._pairs.extend(self._index_group(root, group))
        if listing is not None:
            self._pairs = self._apply_listing(listing)
        if not self._pairs and not self.problems:
            raise DataError(f"{root}: no images found in {IMAGES_DIR}/")

    def _groups(self, root: Path, split: str | None) -> list[Path]:
        if (root / IMAGES_DIR).is_dir():
            return [root]
        groups = sorted(p for p in root.iterdir() if p.is_dir() and (p / IMAGES_DIR).is_dir())
        if not groups:
            if not any(root.iterdir()):
                raise DataError(f"{root}: folder is empty")
            raise DataError(f"{root}: no {IMAGES_DIR}/ folder (expected {IMAGES_DIR}/ and {MASKS_DIR}/)")
        return groups

    def _split_listing(self, root: Path, split: str) -> Path | None:
        candidates = [
            root / "imagesets" / f"{split}.txt",
            root / f"{split}.txt",
            *sorted(root.glob(f"*_{split}.txt")),
        ]
        self.split_files = sorted(
            {str(p) for p in [*root.glob("imagesets/*.txt"), *root.glob("*.txt")] if p.is_file()}
        )
        return next((p for p in candidates if p.is_file()), None)

    def _index_group(self, root: Path, group: Path) -> list[_Pair]:
        masks_dir = group / MASKS_DIR
        if (masks_dir / "0").is_dir():
            masks_dir = masks_dir / "0"
        pairing = pair_by_stem(group / IMAGES_DIR, masks_dir, self.problems, root)
        group_name = "" if group == root else group.name
        self._seen.update(pairing.images)
        self._seen.update(f"{group_name}/{key}" for key in pairing.images if group_name)
        return [_Pair(p.key, group_name, p.image_path, p.mask_path) for p in pairing.pairs]

    def _apply_listing(self, listing: Path) -> list[_Pair]:
        by_key = {pair.key: pair for pair in self._pairs}
        by_key.update({f"{pair.group}/{pair.key}": pair for pair in self._pairs if pair.group})
        selected = []
        for entry in read_split_listing(listing):
            key = drop_image_suffix(entry).removeprefix(f"{IMAGES_DIR}/")
            if key in by_key:
                selected.append(by_key[key])
            elif key not in self._seen:
                self.problems.append(f"{listing}: lists {entry!r} but no such image was found")
        return selected

    def __len__(self) -> int:
        return len(self._pairs)

    def source_of(self, index: int) -> str | None:
        return str(self._pairs[index].image_path)

    def read(self, index: int) -> Sample:
        pair = self._pairs[index]
        image, mask = read_image_and_mask(pair.image_path, pair.mask_path)
        meta = {"source": str(pair.image_path), "dataset": self.name, "image_id": pair.key}
        if pair.group:
            meta["group"] = pair.group
        if self.split:
            meta["split"] = self.split
        return Sample(image, mask, meta=meta)
