"""Constants and conversions of the XRayCath layout (the CathMTL code's dataset), shared by its
reader and its writer so the two cannot drift apart.

Layout::

    ROOT/images/<id>.png|.jpg      frames (8- or 16-bit grey)
    ROOT/masks/<id>.png            binary catheter mask (may be JPEG-compressed: threshold at 0.5)
    ROOT/csv/blob.csv              imageId, Center X, Center Y (normalised 0-1), Strength
    ROOT/imagesets/{train,val,test}.txt   one image id per line
    ROOT/annotations.json          (cathx extension) COCO-style full labels, see below

Coordinates: pixel (x, y) with (0, 0) the centre of the top-left pixel; normalised = x / width.

annotations.json (COCO style, written by cathx so nothing is lost):
    images:      {id, file_name ("images/<id>.png"), mask_file, width, height, split,
                  sequence_id (int | null), frame_index (int | null), fps (float | null)}
    categories:  {id, name} with name in cathx.structures.CATHETER_TYPES, ids 1..N in that order
    annotations: one per catheter per image:
                 {id, image_id, category_id, catheter_id (stable across a sequence), iscrowd: 0,
                  segmentation: RLE {"size": [h, w], "counts": str} of this catheter's mask,
                  area, bbox [x, y, w, h] of the catheter,
                  keypoints [x1, y1, 2, x2, y2, 2, ...] electrode centres in pixels, num_keypoints,
                  electrode_sizes [[w, h], ...] electrode box sizes in pixels,
                  centreline [[x, y], ...] ordered polyline in pixels}
"""

from __future__ import annotations

import numpy as np

IMAGES_DIR = "images"
MASKS_DIR = "masks"
CSV_PATH = "csv/blob.csv"
IMAGESETS_DIR = "imagesets"
ANNOTATIONS_FILE = "annotations.json"
SPLITS = ("train", "val", "test")
CSV_COLUMNS = ("imageId", "Center X", "Center Y", "Strength")

# Strength is the CathMTL code's electrode size class (< 0.5 small, 0.5-0.7 medium, >= 0.7 large).
# cathx maps it to a square electrode box whose side is STRENGTH_BOX_SIDE_AT_256 * strength pixels
# at 256 px image width, scaled linearly with the image width.
STRENGTH_BOX_SIDE_AT_256 = 10.0
STRENGTH_CLASS_EDGES = (0.5, 0.7)


def box_side_from_strength(strength: np.ndarray, image_width: int) -> np.ndarray:
    """Electrode box side in pixels from Strength values. (N,) -> (N,)."""
    return np.asarray(strength, np.float32) * STRENGTH_BOX_SIDE_AT_256 * (image_width / 256.0)


def strength_from_box_side(side: np.ndarray, image_width: int) -> np.ndarray:
    """Inverse of box_side_from_strength, clipped to [0, 1]. (N,) -> (N,)."""
    strength = np.asarray(side, np.float32) / (STRENGTH_BOX_SIDE_AT_256 * (image_width / 256.0))
    return np.clip(strength, 0.0, 1.0)


def strength_class(strength: np.ndarray) -> np.ndarray:
    """Size class 0 (small), 1 (medium), 2 (large) as in the CathMTL code. (N,) -> (N,) int64."""
    return np.digitize(np.asarray(strength, np.float64), STRENGTH_CLASS_EDGES).astype(np.int64)
