"""Pairing the images of an ``images/`` folder with the masks of a ``masks/`` folder by file stem:
the indexing step the generic folder reader and the XRayCath reader (without annotations.json)
share.

Stems pair across extensions (``a.jpg`` with ``a.png``). What cannot be paired is reported in the
reader's ``problems`` list, one line naming the file, and skipped: an image without a mask (when
there is a masks folder), a mask without an image, a 0-byte image or mask, and a second file of
the same stem in one folder (image_files_by_stem; the first in name order is kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cathx.data.formats.imageio import image_files_by_stem


@dataclass(frozen=True)
class Pair:
    """One image and its mask (None when the dataset has no masks folder: an unlabelled image)."""

    key: str
    image_path: Path
    mask_path: Path | None


@dataclass(frozen=True)
class Pairing:
    """images: every image file listed, by stem, the skipped ones included; pairs: the usable ones,
    in stem order."""

    images: dict[str, Path]
    pairs: list[Pair]


def pair_by_stem(images_dir: Path, masks_dir: Path | None, problems: list[str],
                 root: Path | None = None) -> Pairing:
    """Pair the image files of ``images_dir`` with those of ``masks_dir`` by stem.

    masks_dir: None, or a path that is not a folder, means no masks: every image is paired with
    None. root: the dataset folder no file may leave through a symlink (default ``images_dir``).
    Problems are appended to ``problems``: listing ones first (both folders), then each unpaired
    or empty image in stem order, then each mask without an image.
    """
    images = image_files_by_stem(images_dir, problems, root)
    has_masks = masks_dir is not None and masks_dir.is_dir()
    masks = image_files_by_stem(masks_dir, problems, root) if has_masks else None
    pairs = []
    for key, image_path in images.items():
        if image_path.stat().st_size == 0:
            problems.append(f"{image_path}: file is empty (0 bytes) (skipped)")
            continue
        mask_path = None
        if masks is not None:
            mask_path = masks.get(key)
            if mask_path is None:
                problems.append(f"{image_path}: no mask in {masks_dir} (skipped)")
                continue
            if mask_path.stat().st_size == 0:
                problems.append(f"{mask_path}: file is empty (0 bytes) (skipped {image_path.name})")
                continue
        pairs.append(Pair(key, image_path, mask_path))
    for key, mask_path in (masks or {}).items():
        if key not in images:
            problems.append(f"{mask_path}: mask has no image in {images_dir} (skipped)")
    return Pairing(images, pairs)
