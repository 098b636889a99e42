"""``cathx.load("cathx-chest")``: the chest line/tube classifier behind the same Python API as the
catheter models.

    model = cathx.load("cathx-chest")
    results = model.predict("study.png")     # or a numpy array (H, W) / (H, W, 3) -> ChestResults
    results.top, results.probabilities       # ("ETT - Normal", 0.93), the 11 RANZCR CLiP labels
    results.plot(); results.to_json(); results.save("out/")

``cathx cls predict`` (``cathx.inference.chest.predict_files``) predicts through ChestModel too: grey
pixels in [0, 1], an area resize to the network's side, ``image_tensor``; a seg-aided model also
gives the union of its line masks at the image's size and one tip per line.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cathx.errors import CathxError, DataError

EXPECTED = "an image path (.jpg/.jpeg/.png/.dcm), a folder of them, a numpy array (H, W) or (H, W, 3), or a list of them"
TIP_COLOURS = {"ETT": (255, 200, 40), "NGT": (90, 255, 120), "CVC": (80, 200, 255), "Swan": (255, 80, 200)}


@dataclass
class ChestResults:
    """One radiograph's prediction: the 11 label probabilities, the line mask and tips (seg-aided models).

    image: (H, W) float32 in [0, 1]; mask: (H, W) uint8 0/255, the union of the device groups'
    masks, or None; tips: dicts of line (ETT, NGT, CVC, Swan), x, y (pixels) and score.
    """

    name: str
    probabilities: dict[str, float]
    image: np.ndarray = field(repr=False)
    mask: np.ndarray | None = field(default=None, repr=False)
    tips: list[dict[str, Any]] = field(default_factory=list)

    @property
    def top(self) -> tuple[str, float]:
        """The label the model is most sure of and its probability."""
        label = max(self.probabilities, key=self.probabilities.__getitem__)
        return label, self.probabilities[label]

    def __repr__(self) -> str:
        label, p = self.top
        height, width = self.image.shape
        lines = f", {len(self.tips)} line tip(s)" if self.mask is not None else ""
        return f"ChestResults({self.name!r}, {width}x{height} px, top {label!r} {p:.2f}{lines})"

    def to_dict(self) -> dict[str, Any]:
        height, width = self.image.shape
        return {"name": self.name, "width": int(width), "height": int(height),
                "probabilities": {k: round(float(v), 5) for k, v in self.probabilities.items()},
                "top": self.top[0], "has_mask": self.mask is not None, "tips": self.tips}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def plot(self) -> np.ndarray:
        """RGB uint8 (H, W, 3): the radiograph, the line mask tinted, each tip circled, the top label."""
        import cv2

        grey = np.round(np.clip(self.image, 0.0, 1.0) * 255).astype(np.uint8)
        canvas = np.repeat(grey[..., None], 3, axis=2)
        if self.mask is not None:
            lines = self.mask > 0
            canvas[lines] = (0.5 * canvas[lines] + 0.5 * np.array([255, 60, 60])).astype(np.uint8)
        height, width = grey.shape
        radius = max(3, round(min(height, width) / 60))
        for tip in self.tips:
            centre = (round(tip["x"]), round(tip["y"]))
            cv2.circle(canvas, centre, radius, TIP_COLOURS.get(tip["line"], (255, 255, 255)), max(1, radius // 3))
        label, p = self.top
        scale = max(0.35, width / 700)
        cv2.putText(canvas, f"{label} {p:.2f}", (4, int(16 * scale + 4)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), max(1, int(scale * 2)), cv2.LINE_AA)
        return canvas

    def save(self, folder: Path | str) -> dict[str, Path]:
        """Write NAME.json, NAME.png (the plot) and NAME_mask.png (with a mask) into ``folder``.
        ``folder`` must be new, empty or earlier cathx output (CathxError otherwise): saving into
        the images' own folder would replace ``x.png`` with its plot."""
        from cathx.fileio import atomic_write_bytes, atomic_write_text, claim_output_folder
        from cathx.postprocess.results import encode_png

        folder = claim_output_folder(folder, option="ChestResults.save")
        stem = re.sub(r"[^\w.-]+", "_", Path(self.name).stem) or "image"
        paths = {"json": folder / f"{stem}.json", "plot": folder / f"{stem}.png"}
        atomic_write_text(paths["json"], json.dumps(self.to_dict(), indent=2) + "\n")
        atomic_write_bytes(paths["plot"], encode_png(self.plot()))
        if self.mask is not None:
            paths["mask"] = folder / f"{stem}_mask.png"
            atomic_write_bytes(paths["mask"], encode_png(self.mask))
        return paths


class ChestModel:
    """A loaded chest classifier. ``predict`` takes an image path or array (one ChestResults), or a
    folder or a list of them (an iterator of ChestResults).

    mask_threshold: line probability at or above which a pixel is in the line mask and the tips'
    components (0 < t < 1; 0.5 by default). Lower it to trade precision for recall, e.g. on images
    unlike the training studies (docs/chest.md, "The line mask's threshold")."""

    def __init__(self, model: Any, config: Any, input_size: int, name: str = "", device: str = "cpu",
                 mask_threshold: float = 0.5) -> None:
        if not 0.0 < mask_threshold < 1.0:  # NaN fails too
            raise CathxError(f"mask_threshold {mask_threshold}: must be in (0, 1)")
        self.model = model.to(device).eval()
        self.config = config
        self.input_size = input_size
        self.name = name
        self.device = device
        self.mask_threshold = float(mask_threshold)

    def __repr__(self) -> str:
        return (f"ChestModel({self.name!r}, {self.config.kind} {self.config.backbone}, input {self.input_size} px, "
                f"{self.config.num_labels} labels, on {self.device})")

    def __call__(self, source: Any) -> ChestResults | Iterator[ChestResults]:
        return self.predict(source)

    def predict(self, source: Any) -> ChestResults | Iterator[ChestResults]:
        """ChestResults of one image, or an iterator of them for a folder or a list; the inputs
        are checked before this returns (CathxError naming what was expected)."""
        if isinstance(source, (str, os.PathLike)):
            paths = list_images(source)
            if Path(source).is_dir():
                from cathx.inference.sources import output_names

                # a.jpg and a.png: results a_jpg and a_png, so that saving one never replaces the other
                names = output_names(paths)
                return (self.predict_grey(read_radiograph(path), name) for path, name in zip(paths, names))
            return self._predict_path(paths[0])
        if isinstance(source, (list, tuple)):
            if not source:
                raise CathxError(f"predict: got an empty {type(source).__name__}; expected {EXPECTED}")
            items = [_checked_item(item, index) for index, item in enumerate(source)]
            return (self._predict_path(item) if isinstance(item, Path) else self.predict_array(item, f"array_{i:05d}")
                    for i, item in enumerate(items))
        if _is_array(source):
            return self.predict_array(source)
        raise CathxError(f"predict: expected {EXPECTED}; got {type(source).__name__}")

    def predict_array(self, array: Any, name: str = "image") -> ChestResults:
        """ChestResults of one radiograph given as pixels (H, W), (H, W, 1) or RGB(A) (H, W, 3|4):
        integers (uint8, uint16) or floats in [0, 1]."""
        return self.predict_grey(_unit_grey(array, "predict"), name)

    def _predict_path(self, path: Path) -> ChestResults:
        return self.predict_grey(read_radiograph(path), path.stem)

    def input_tensor(self, image: np.ndarray) -> Any:
        """(H, W) float32 image in [0, 1] -> the network's (1, C, S, S) input on the model's device."""
        import cv2

        from cathx.data.datasets import image_tensor

        size = self.input_size
        return image_tensor(cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA))[None].to(self.device)

    def predict_grey(self, image: np.ndarray, name: str) -> ChestResults:
        """The steps of ``cathx cls predict`` on one (H, W) float32 image in [0, 1]: the label
        probabilities and, for a seg-aided model, the line mask at the image's size and the tips."""
        import torch
        import torch.nn.functional as F

        from cathx.data.chest.ranzcr import GROUP_NAMES, LABELS
        from cathx.postprocess.line_tips import line_tips, upscale_mask

        size = self.input_size
        x = self.input_tensor(image)
        with torch.no_grad():
            outputs = self.model(x)
        probs = torch.sigmoid(outputs["logits"][0]).float().cpu().numpy()
        results = ChestResults(name, {label: float(p) for label, p in zip(LABELS, probs)}, image)
        if "mask" in outputs:
            line_probs = torch.sigmoid(F.interpolate(outputs["mask"].float(), size=(size, size), mode="bilinear",
                                                     align_corners=False))[0].cpu().numpy()  # (G, S, S)
            results.mask = upscale_mask(line_probs.max(axis=0), image.shape, self.mask_threshold)
            results.tips = [{"line": GROUP_NAMES[t.group], "x": round(t.x, 1), "y": round(t.y, 1),
                             "score": round(t.score, 4)}
                            for t in line_tips(line_probs, image.shape, self.mask_threshold)]
        return results


def load_chest(weights: Path | str = "cathx-chest", device: str = "cpu", mask_threshold: float = 0.5) -> ChestModel:
    """A chest classifier (shipped name or classifier.safetensors / .pt) ready to predict;
    ``mask_threshold``: see ``ChestModel``."""
    from cathx.checkpoint import load_classifier
    from cathx.inference.model import resolve_device

    resolved = resolve_device(device)
    model, config, size = load_classifier(weights)
    return ChestModel(model, config, size, name=str(weights), device=resolved, mask_threshold=mask_threshold)


def list_images(source: Path | str) -> list[Path]:
    """An image file (.jpg, .jpeg, .png) or DICOM file, or those directly inside a folder (hidden
    files such as macOS ``._scan.jpg`` left out), sorted."""
    from cathx.data.chest.ranzcr import IMAGE_SUFFIXES
    from cathx.data.formats.dicom import DICOM_SUFFIXES, is_dicom_file

    source = Path(source)
    if source.is_file():
        if source.suffix.lower() not in IMAGE_SUFFIXES and not is_dicom_file(source):
            raise DataError(f"{source}: not an image ({', '.join(IMAGE_SUFFIXES)}) or DICOM file")
        return [source]
    if not source.is_dir():
        raise DataError(f"{source}: no such file or folder")
    paths = sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith(".")
                   and (p.suffix.lower() in IMAGE_SUFFIXES or p.suffix.lower() in DICOM_SUFFIXES))
    if not paths:
        raise DataError(f"{source}: no .jpg/.jpeg/.png images or .dcm files in this folder")
    return paths


def read_radiograph(path: Path | str) -> np.ndarray:
    """(H, W) float32 in [0, 1], bright = dense, from an image file or a DICOM radiograph (its
    BitsStored, rescale and window, MONOCHROME1 inverted: ``cathx.data.formats.dicom``; the first
    frame of a multi-frame file). Raises DataError naming the file."""
    from cathx.data.formats.imageio import read_image

    from cathx.data.formats.dicom import DicomReader, is_dicom_file

    path = Path(path)
    if not is_dicom_file(path):
        return read_image(path)

    return np.asarray(DicomReader(path).read(0).image, np.float32)


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) or hasattr(value, "__array__") or hasattr(value, "__array_interface__")


def _checked_item(item: Any, index: int) -> Path | np.ndarray:
    """One element of a list given to predict: an image file's path, or checked grey pixels."""
    if isinstance(item, (str, os.PathLike)):
        if Path(item).is_dir():
            raise CathxError(f"predict: item {index}: {item} is a folder; give image files in a list")
        return list_images(item)[0]
    if _is_array(item):
        return _unit_grey(item, f"predict: item {index}")
    raise CathxError(f"predict: item {index}: expected an image path or a numpy array, got {type(item).__name__}")


def _unit_grey(value: Any, where: str) -> np.ndarray:
    """(H, W) float32 in [0, 1] from an image array, or CathxError naming what was expected."""
    import cv2

    from cathx.data.datasets import image_tensor
    from cathx.inference.model import _check_array

    array = _check_array(value, where)
    if array.dtype.kind == "b":
        array = array.astype(np.uint8) * 255
    if array.dtype.kind == "f":
        low, high = float(np.nanmin(array)), float(np.nanmax(array))
        if not (np.isfinite(low) and np.isfinite(high) and low >= -1e-3 and high <= 1 + 1e-3):
            raise CathxError(f"{where}: expected float pixels in [0, 1] (or uint8 / uint16 pixels), "
                             f"got values from {low:g} to {high:g}")
    unit = image_tensor(array).squeeze(-3).numpy()  # the network's scaling of pixels, channels kept
    if unit.ndim == 3:
        unit = unit[..., 0] if unit.shape[2] == 1 else cv2.cvtColor(
            np.ascontiguousarray(unit), cv2.COLOR_RGB2GRAY if unit.shape[2] == 3 else cv2.COLOR_RGBA2GRAY)
    return np.ascontiguousarray(unit, dtype=np.float32)
