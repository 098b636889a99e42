"""The Python API behind ``cathx.load``: a loaded model that predicts paths, arrays and lists of them.

    import cathx
    model = cathx.load("cathx-fluoro")              # a shipped model's name or a weights path
    results = model.predict("frame.png")            # one image (file or array) -> Results
    for results in model.predict("run.dcm"): ...    # folder, video, DICOM, list -> a stream of Results
    for results in model.track(frames): ...         # frames of one sequence (list, stack, folder) -> stable ids

Paths are read by the readers `cathx predict` uses (``cathx.inference.sources``), so the API and
the command line see the same pixels. Every Results carries its frame (``results.image``) for
``plot()``, ``save()`` and notebook display; frames of a video or DICOM sequence get stable
catheter and electrode ids (tracking).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from cathx.errors import CathxError
from cathx.inference.predictor import BACKENDS, Predictor
from cathx.postprocess.results import Results

DEVICES: tuple[str, ...] = ("cpu", "cuda", "cuda:N", "auto")
EXPECTED = "an image path, a folder, a video, a DICOM file, a numpy array (H, W) or (H, W, 3), or a list of them"
CHEST_MODELS: tuple[str, ...] = ("cathx-chest",)


def resolve_device(device: str, option: str = "device") -> str:
    """"cpu", "cuda", "cuda:N" or "auto" (CUDA when available, else CPU) -> a torch device string.

    CathxError (one line) for another name or for CUDA on a machine without it.
    """
    name = str(device).strip().lower()
    if name == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return name
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        import torch

        if not torch.cuda.is_available():
            raise CathxError(f"{option} {device!r}: CUDA is not available on this machine; use cpu or auto")
        if ":" in name and int(name[5:]) >= torch.cuda.device_count():
            raise CathxError(f"{option} {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
        return name
    raise CathxError(f"{option} {device!r}: choose from {', '.join(DEVICES)}")


def load(weights: Path | str = "cathx-fluoro", *, device: str = "cpu", backend: str | None = None,
         input_size: int | None = None, mask_threshold: float = 0.5, peak_threshold: float = 0.3,
         tta: bool = False, precision: str = "auto") -> Model:
    """A shipped model's name (``cathx models``) or a weights file -> a Model ready to predict.

    backend: "torch" or "onnx" (default: onnx for .onnx files). device: cpu, cuda, cuda:N or auto.
    tta: average the mask over each frame and its mirror image (twice the network time; torch only).
    precision: "auto" (bf16 on a CPU that computes in bfloat16, else fp32), "fp32" or "bf16"; torch only.
    Raises CathxError naming the file for missing, truncated or foreign weights.
    """
    if not isinstance(weights, (str, os.PathLike)):
        raise CathxError(f"cathx.load: expected a model name or a weights path, got {type(weights).__name__}")
    if str(weights) in CHEST_MODELS:
        raise CathxError(f"{weights}: a chest X-ray line/tube classifier; cathx.load serves the catheter models "
                         "(cathx-fluoro or a checkpoint); use `cathx cls predict` for chest images")
    if not 0.0 < float(mask_threshold) < 1.0:
        raise CathxError(f"cathx.load: mask_threshold {mask_threshold}: must be in (0, 1)")
    if not 0.0 <= float(peak_threshold) <= 1.0:
        raise CathxError(f"cathx.load: peak_threshold {peak_threshold}: must be in [0, 1]")
    backend = backend or ("onnx" if str(weights).lower().endswith(".onnx") else "torch")
    if backend not in BACKENDS:
        raise CathxError(f"cathx.load: unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    resolved = resolve_device(device)
    predictor = Predictor.from_checkpoint(weights, backend=backend, input_size=input_size, device=resolved,
                                          mask_threshold=mask_threshold, peak_threshold=peak_threshold, tta=tta,
                                          precision=precision)
    return Model(predictor, name=str(weights), device=resolved)


class Model:
    """A loaded catheter model. ``predict`` (or calling the model) takes:

    - a path to one image (PNG, JPEG, TIFF, BMP) or a numpy array (H, W) / (H, W, 1|3|4): one Results;
    - a folder, a video, a DICOM file or series, a list of paths and arrays, or any iterable of
      arrays: an iterator yielding one Results per frame, decoded and predicted lazily (a long video
      is never held in memory).
    """

    def __init__(self, predictor: Predictor, name: str = "", device: str = "cpu") -> None:
        self.predictor = predictor
        self.name = name
        self.device = device

    @property
    def input_size(self) -> int:
        """The network's square input side in pixels."""
        return self.predictor.input_size

    def __repr__(self) -> str:
        return (f"Model({self.name!r}, {self.predictor.description or '?'}, input {self.input_size} px, "
                f"{self.predictor.backend} on {self.device})")

    def __call__(self, source: Any, **kwargs: Any) -> Results | Iterator[Results]:
        return self.predict(source, **kwargs)

    def predict(self, source: Any, *, track: bool = True, batch_size: int = 1) -> Results | Iterator[Results]:
        """Results for one image, or an iterator of Results for anything holding several frames.

        track: give catheters and electrodes stable ids over the frames of a video or DICOM
        sequence. batch_size: frames per network call. Inputs are checked before this returns
        (CathxError naming what was expected); a file that turns out unreadable raises when reached.
        """
        if not isinstance(batch_size, int) or batch_size < 1:
            raise CathxError(f"predict: batch_size must be a positive integer, got {batch_size!r}")
        if isinstance(source, (str, os.PathLike)):
            opened = _open(source)
            if opened.kind == "image":
                frame = next(opened.frames())
                return next(self._predict_frames([(frame.image, frame.meta)], False, 1))
            return self._stream([opened], track, batch_size)
        if _is_array(source):
            image = _check_array(source, "predict")
            return next(self._predict_frames([(image, {"name": "image", "frame": 0})], False, 1))
        if isinstance(source, (list, tuple)):
            if not source:
                raise CathxError(f"predict: got an empty {type(source).__name__}; expected {EXPECTED}")
            return self._stream([_check_item(item, i) for i, item in enumerate(source)], track, batch_size)
        if isinstance(source, Iterable) and not isinstance(source, (bytes, bytearray, dict)):
            return self._stream((_check_item(item, i) for i, item in enumerate(source)), track, batch_size)
        raise CathxError(f"predict: expected {EXPECTED}; got {type(source).__name__}")

    def track(self, frames: Any, *, batch_size: int = 1) -> Iterator[Results]:
        """Frames of ONE sequence -> an iterator of Results whose catheters and electrodes keep their
        ids from frame to frame (and whose catheter types are decided over the track).

        frames: a list or iterable of arrays / image paths in time order, a stack (T, H, W) array, a
        video, a DICOM file or series, or a folder of frames (sorted by name). ``predict`` tracks
        videos and DICOM sequences already; ``track`` also treats lists, stacks and folders as one
        sequence, which ``predict`` does not (their images may be unrelated).
        """
        if not isinstance(batch_size, int) or batch_size < 1:
            raise CathxError(f"track: batch_size must be a positive integer, got {batch_size!r}")
        if isinstance(frames, (str, os.PathLike)):
            opened = _open(frames)
            return self._predict_frames(((f.image, f.meta) for f in opened.frames()), True, batch_size)
        if _is_array(frames):
            stack = np.asarray(frames.detach().cpu() if hasattr(frames, "detach") else frames)
            if stack.ndim == 2 or (stack.ndim == 3 and stack.shape[2] in (1, 3, 4) and stack.shape[0] > 4):
                raise CathxError(f"track: got one image of shape {stack.shape}; expected frames of a sequence "
                                 "(a list of arrays or a stack (T, H, W))")
            frames = list(stack)
        if isinstance(frames, (list, tuple)) and not frames:
            raise CathxError(f"track: got an empty {type(frames).__name__}; expected the frames of a sequence")
        if not isinstance(frames, Iterable) or isinstance(frames, (bytes, bytearray, dict)):
            raise CathxError(f"track: expected the frames of a sequence (a list of arrays or image paths, a stack, "
                             f"a video, a DICOM or a folder); got {type(frames).__name__}")
        return self._predict_frames((_track_frame(item, i) for i, item in enumerate(frames)), True, batch_size)

    # ---------------------------------------------------------------- internals
    def _stream(self, items: Iterable, track: bool, batch_size: int) -> Iterator[Results]:
        """Results of every frame of every item (an opened Source or a checked array), in order."""
        for index, item in enumerate(items):
            if isinstance(item, np.ndarray):
                yield from self._predict_frames([(item, {"name": f"array_{index:05d}", "frame": index})],
                                                False, 1)
                continue
            frames = ((frame.image, frame.meta) for frame in item.frames())
            yield from self._predict_frames(frames, track and item.sequence, batch_size)

    def _predict_frames(self, frames: Iterable[tuple[np.ndarray, dict]], track: bool, batch_size: int
                        ) -> Iterator[Results]:
        from cathx.inference.sources import Frame

        tracker = self.predictor.tracker() if track else None
        sequence = None
        stream = self.predictor.stream((Frame(image, meta) for image, meta in frames), batch_size=batch_size)
        for frame, results in stream:
            if tracker is not None:
                # A folder of videos or DICOM series: each is tracked on its own, as `cathx predict`
                # does (ids and type votes must not carry from one run into the next).
                if frame.meta.get("sequence", sequence) != sequence and sequence is not None:
                    tracker = self.predictor.tracker()
                sequence = frame.meta.get("sequence", sequence)
                tracker.update(results)
            results.image = frame.image
            yield results


def _open(path: os.PathLike | str):
    from cathx.inference.sources import open_source

    return open_source(path)


def _is_array(value: Any) -> bool:
    """numpy arrays and what converts to one: torch tensors, PIL images (``__array_interface__``)."""
    if isinstance(value, (list, tuple)):
        return False
    return isinstance(value, np.ndarray) or hasattr(value, "__array__") or hasattr(value, "__array_interface__")


def _check_array(value: Any, where: str) -> np.ndarray:
    """An image array as numpy (H, W) or (H, W, 1|3|4) of numbers, or CathxError naming the problem."""
    if hasattr(value, "detach"):  # a torch tensor, possibly on a GPU
        value = value.detach().cpu()
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise CathxError(f"{where}: expected an image array of numbers, got dtype {array.dtype}")
    if array.ndim == 3 and array.shape[2] not in (1, 3, 4) and array.shape[0] > 4:
        raise CathxError(f"{where}: expected one image (H, W) or (H, W, 3), got an array of shape {array.shape}; "
                         "for a stack of frames pass a list of arrays, e.g. list(frames)")
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise CathxError(f"{where}: expected one image (H, W) or (H, W, 3), got an array of shape {array.shape}")
    return array


def _track_frame(item: Any, index: int) -> tuple[np.ndarray, dict]:
    """One frame given to track: an array, or a path to one image; (image, meta)."""
    if isinstance(item, (str, os.PathLike)):
        opened = _open(item)
        if opened.kind != "image":
            raise CathxError(f"track: item {index}: {item} is a {opened.kind}, not one frame; pass it alone")
        frame = next(opened.frames())
        return frame.image, {**frame.meta, "frame": index}
    if _is_array(item):
        return _check_array(item, f"track: item {index}"), {"name": f"frame_{index:05d}", "frame": index}
    raise CathxError(f"track: item {index}: expected an image array or path, got {type(item).__name__}")


def _check_item(item: Any, index: int):
    """One element of a list given to predict: an opened Source for a path, a checked array."""
    if isinstance(item, (str, os.PathLike)):
        return _open(item)
    if _is_array(item):
        return _check_array(item, f"predict: item {index}")
    raise CathxError(f"predict: item {index}: expected an image path or a numpy array, got {type(item).__name__}")
