"""Predictor: image in, Results out, with a PyTorch or ONNX Runtime backend.

    predictor = Predictor.from_checkpoint("model.pt")            # or "model.onnx", backend="onnx"
    results = predictor(image)                                   # any grey/RGB, 8/16-bit, float
    for results in predictor.stream(frames): ...                 # one frame in memory at a time

Pre-processing converts to grey float32 in [0, 1] and resizes to the network's square input
(the paper resizes to 256x256); the mask probabilities are resized back to the image and every
coordinate is mapped to original pixels. Timings of each stage go into ``results.meta``.

Length (about 430 lines): the two backends' loaders and the electrode peak decoder sit beside the
Predictor because each reads the checkpoint's or ONNX file's metadata the Predictor is built from.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from cathx.data.formats.imageio import to_unit_float
from cathx.errors import CathxError, DataError, first_line
from cathx.postprocess.compiled import decode_peaks
from cathx.postprocess.results import Results, analyse_frame, rescale_results
from cathx.structures import OUTPUT_NAMES, input_size_problem

log = logging.getLogger(__name__)

MIN_SIDE = 32  # smaller images carry no catheter detail at any network input size
MAX_SIDE = 16384  # larger ones are almost certainly not a single fluoroscopy frame
BACKENDS: tuple[str, ...] = ("torch", "onnx")


def _grey(image: np.ndarray, name: str) -> np.ndarray:
    """(H, W), (H, W, 1), RGB or RGBA -> (H, W) in the input dtype; size checks. DataError otherwise."""
    if isinstance(image, (str, Path)):
        raise DataError(f"{name}: expected an image array, got the path {str(image)!r}; "
                        "cathx.load(weights).predict(path) reads files")
    array = np.asarray(image)
    if array.dtype.kind not in "biuf":
        raise DataError(f"{name}: expected an image array of numbers, got {type(image).__name__} ({array.dtype})")
    if array.ndim == 3 and array.shape[2] in (1, 3, 4):
        if array.shape[2] == 1:
            array = array[:, :, 0]
        else:
            weights = np.array([0.299, 0.587, 0.114], np.float32)
            grey = array[:, :, :3].astype(np.float32) @ weights
            array = grey.astype(array.dtype) if np.issubdtype(array.dtype, np.integer) else grey
    if array.ndim != 2:
        raise DataError(f"{name}: expected a 2-D grey or RGB image, got an array of shape {array.shape}")
    height, width = array.shape
    if min(height, width) < MIN_SIDE:
        raise DataError(
            f"{name}: image is {width}x{height} px; the smallest supported is {MIN_SIDE}x{MIN_SIDE}")
    if max(height, width) > MAX_SIDE:
        raise DataError(f"{name}: image is {width}x{height} px; the largest supported side is {MAX_SIDE}")
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise DataError(f"{name}: unsupported pixel type {array.dtype}")
    return array


def to_unit_grey(image: np.ndarray, name: str = "image", bits_stored: int | None = None) -> np.ndarray:
    """Any image array -> (H, W) float32 in [0, 1] (dense = dark, as stored).

    Accepts (H, W), (H, W, 1), RGB or RGBA; uint8, uint16 or float, scaled by the one rule of
    ``cathx.data.formats.imageio.to_unit_float`` (``bits_stored``: significant bits the file
    declares; never the frame's own maximum). Raises DataError, naming ``name``, for other shapes
    and for images under MIN_SIDE or over MAX_SIDE pixels a side.
    """
    return to_unit_float(_grey(image, name), bits_stored)


def prepare_input(image: np.ndarray, size: int, name: str = "image", bits_stored: int | None = None
                  ) -> tuple[np.ndarray, tuple[int, int]]:
    """Image -> ((size, size) float32 network input in [0, 1], original (H, W)).

    Resizes in the stored dtype before converting, so an 8000x8000 frame never becomes a float copy;
    pixels are scaled as ``to_unit_grey`` does (the same numbers `val` and `train` read).
    """
    grey = _grey(image, name)
    work = grey if grey.dtype in (np.uint8, np.uint16, np.float32) else grey.astype(np.float32)
    small = resize_to_input(work, size)
    return to_unit_float(small, bits_stored, reference=grey), (int(grey.shape[0]), int(grey.shape[1]))


def resize_to_input(image: np.ndarray, size: int) -> np.ndarray:
    """(H, W) -> (size, size), same dtype; area averaging when shrinking."""
    if image.shape == (size, size):
        return image
    shrinking = image.shape[0] > size or image.shape[1] > size
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the first axis: (T, h, w) logits -> probabilities."""
    shifted = np.exp(logits - logits.max(axis=0, keepdims=True))
    return shifted / shifted.sum(axis=0, keepdims=True)


def decode_electrodes(heatmap: np.ndarray, size: np.ndarray | None, stride: int, k: int, threshold: float
                      ) -> list[np.ndarray]:
    """(B, 1, h, w) heatmap logits (+ (B, 2, h, w) sizes) -> B arrays (K, 5) [x, y, score, w, h],
    input pixels, by decreasing score.

    The same rule as cathx.heatmap.decode_peaks (3x3 max suppression, top-k, score threshold,
    log-parabola sub-cell refinement; a test checks they agree), compiled
    (``compiled.decode_peaks``): the ONNX backend needs no torch at run time, and the map is read
    once. The sigmoid is monotonic, so suppression and the threshold work on the logits and the
    sigmoid and its log are taken only at the peaks and their neighbours.
    """
    cut = float(np.log(threshold / (1.0 - threshold))) if 0.0 < threshold < 1.0 else (
        -np.inf if threshold <= 0.0 else np.inf)
    no_size = np.zeros((0, 1, 1), np.float32)
    return [decode_peaks(np.ascontiguousarray(heatmap[b, 0], dtype=np.float32),
                         no_size if size is None else np.ascontiguousarray(size[b], dtype=np.float32),
                         cut, int(k), int(stride))
            for b in range(heatmap.shape[0])]


def onnx_output_stride(path: Path, metadata: dict[str, str]) -> int:
    """The output stride an ONNX file was exported with (``cathx export`` writes "output_stride";
    files exported before this name was settled carry "stride")."""
    value = metadata.get("output_stride", metadata.get("stride"))
    if value is None:
        raise CathxError(f"{path}: no output_stride in the ONNX metadata; export the model with `cathx export`")
    return int(value)


class _TorchRunner:
    def __init__(self, model, device: str = "cpu", channels_last: bool = True) -> None:
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self.channels_last = channels_last
        model = model.eval().to(self.device)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        torch = self.torch
        x = torch.from_numpy(batch).to(self.device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            outputs = self.model(x)
        return {k: v.float().cpu().numpy() for k, v in outputs.items() if k in OUTPUT_NAMES}


class _OnnxRunner:
    def __init__(self, path: Path, threads: int | None = None, providers: list[str] | None = None,
                 spinning: bool = True) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        if not spinning:  # idle threads sleep instead of spinning: fairer when sharing the CPU
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(
                str(path), options, providers=providers or ["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own Fail / InvalidProtobuf types
            raise CathxError(f"{path}: not a loadable ONNX model ({first_line(exc)[:200]})") from None
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        # The square side the graph was exported for (N, 1, S, S), or None when its image axes are dynamic.
        shape = self.session.get_inputs()[0].shape
        fixed = shape[-2:] if len(shape) == 4 else []
        self.fixed_side = int(fixed[0]) if len(fixed) == 2 and all(isinstance(d, int) for d in fixed) \
            and fixed[0] == fixed[1] else None

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        values = self.session.run(None, {self.input_name: batch})
        return {name: value for name, value in zip(self.output_names, values) if name in OUTPUT_NAMES}


@dataclass(eq=False)
class Predictor:
    """Runs a CathMTL network on frames and post-processes its outputs into Results.

    runner: callable (B, 1, S, S) float32 -> dict of numpy outputs ("mask", "heatmap", "size", and
        "type" when the network has a catheter-type head).
    input_size: the network's square input side S. stride: heatmap stride (4).
    mask_threshold / peak_threshold: probabilities for the mask and for electrode peaks.
    max_electrodes: top-K peaks kept per frame. bit_depth: significant bits of integer frames whose
    meta declares none (``meta["bits_stored"]``, from PNG sBIT); None: the container's full range.
    type_classifier: a postprocess.type_classifier.TypeClassifier that types catheters (read from
    the checkpoint's metadata when it has one), or None (type head or electrode-pattern rules).
    """

    # Same shape as DatasetPlan's fields (`duplicates` pairs them): typed defaults, no shared logic.
    runner: Any
    input_size: int = 256
    stride: int = 4
    mask_threshold: float = 0.5
    peak_threshold: float = 0.3
    max_electrodes: int = 64
    backend: str = "torch"
    description: str = ""
    bit_depth: int | None = None
    type_classifier: Any | None = None
    precision: str = "fp32"  # what the network computes in: fp32, or bf16 (torch backend)

    def __post_init__(self) -> None:
        self.input_size = int(self.input_size)
        self.stride = int(self.stride)

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_model(cls, model, input_size: int = 256, device: str = "cpu", channels_last: bool = True,
                   precision: str = "fp32", **kwargs: Any) -> Predictor:
        """Wrap an in-memory torch model (returning the CathMTL output dict). precision: as
        ``from_checkpoint``'s (default fp32: the model as given)."""
        from cathx.models.precision import resolve_precision, with_precision

        resolved = resolve_precision(precision, device)
        return cls(_TorchRunner(with_precision(model, resolved, device), device, channels_last), input_size=input_size,
                   stride=model.output_stride, backend="torch", precision=resolved, **kwargs)

    @classmethod
    def from_checkpoint(cls, path: Path | str, backend: str = "torch", input_size: int | None = None,
                        device: str = "cpu", threads: int | None = None, spinning: bool = True,
                        tta: bool = False, precision: str = "auto", **kwargs: Any) -> Predictor:
        """Load weights: a cathx checkpoint (backend "torch") or an exported .onnx file ("onnx").

        tta: average the mask over the frame and its mirror image (cathx.models.tta.FlipAverage; a
        second forward pass per frame), torch backend only.
        precision: "auto" (bf16 on a CPU that computes in bfloat16, else fp32), "fp32" or "bf16"
        (``cathx.system.inference_precision``), torch backend only; an ONNX file runs as exported.

        Raises CathxError (one line naming the file) for a missing, truncated or foreign file.
        """
        from cathx.zoo import resolve_weights

        path = resolve_weights(path)
        if backend not in BACKENDS:
            raise CathxError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
        from cathx.system import INFERENCE_PRECISIONS

        if precision not in INFERENCE_PRECISIONS:
            raise CathxError(f"precision {precision!r}: choose from {', '.join(INFERENCE_PRECISIONS)}")
        if input_size is not None and (problem := input_size_problem(input_size)):
            raise CathxError(f"input_size {input_size}: {problem}")
        if not path.is_file():
            raise CathxError(f"{path}: weights file not found")
        if path.stat().st_size == 0:
            raise CathxError(f"{path}: weights file is empty (0 bytes)")
        if backend == "onnx":
            if tta:
                raise CathxError(f"{path}: test-time augmentation (--tta) needs the torch backend and cathx weights")
            if precision == "bf16":
                raise CathxError(f"{path}: precision bf16 needs the torch backend; an ONNX file runs in the "
                                 "precision it was exported in")
            if path.suffix.lower() != ".onnx":
                raise CathxError(
                    f"{path}: the onnx backend needs an exported .onnx file (see `cathx export`)")
            providers = None
            if device.startswith("cuda"):
                providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
            runner = _OnnxRunner(path, threads=threads, providers=providers, spinning=spinning)
            meta = runner.metadata
            size = input_size or runner.fixed_side or int(meta.get("input_size", 256))
            if runner.fixed_side and size != runner.fixed_side:
                # the exported graph's image axes are fixed; onnxruntime would fail on the first frame
                raise CathxError(f"{path}: exported for {runner.fixed_side}-px input, not {size}; export again with "
                                 f"`cathx export --input-size {size}` or leave the input size out")
            if "type_classifier" not in kwargs:  # a caller's choice (None: no learned decision) wins
                kwargs["type_classifier"] = _type_classifier(meta.get("type_classifier"), path)
            return cls(runner, input_size=size, stride=onnx_output_stride(path, meta), backend="onnx",
                       description=meta.get("description", path.name), **kwargs)
        if path.suffix.lower() == ".onnx":
            raise CathxError(f"{path}: an ONNX file needs --backend onnx")
        from cathx.models.precision import resolve_precision, with_precision

        resolved = resolve_precision(precision, device)
        model, config, extra = load_torch_checkpoint(path)
        model = with_precision(model, resolved, device)
        if tta:
            from cathx.models.tta import FlipAverage

            model = FlipAverage(model)
        from cathx.checkpoint import trained_input_size

        size = input_size or trained_input_size(path, extra)
        if "type_classifier" not in kwargs:  # a caller's choice (None: no learned decision) wins
            kwargs["type_classifier"] = _type_classifier(extra.get("type_classifier"), path)
        return cls(_TorchRunner(model, device), input_size=size, stride=model.output_stride,
                   backend="torch", description=f"{path.name} ({getattr(config, 'encoder', '?')})"
                   + (", flip TTA" if tta else "") + (", bfloat16" if resolved == "bf16" else ""),
                   precision=resolved, **kwargs)

    # ---------------------------------------------------------------- stages
    def preprocess(self, images: list[np.ndarray], names: list[str] | None = None,
                   bits: list[int | None] | None = None) -> tuple[np.ndarray, list]:
        """Images -> (B, 1, S, S) float32 batch and each image's original (H, W).

        bits: each image's declared significant bits (None: ``self.bit_depth``)."""
        names = names or [f"image {i}" for i in range(len(images))]
        bits = bits or [None] * len(images)
        prepared = [prepare_input(image, self.input_size, name, self.bit_depth if depth is None else depth)
                    for image, name, depth in zip(images, names, bits)]
        batch = np.stack([p[0] for p in prepared])[:, None]
        return np.ascontiguousarray(batch, dtype=np.float32), [p[1] for p in prepared]

    def network(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        return self.runner(batch)

    def postprocess(self, outputs: dict[str, np.ndarray], shapes: list, metas: list[dict] | None = None
                    ) -> list[Results]:
        """Network outputs for a batch -> one Results per image, in original pixels."""
        metas = metas or [{} for _ in shapes]
        peaks_all = None
        if "heatmap" in outputs:
            peaks_all = decode_electrodes(outputs["heatmap"], outputs.get("size"), self.stride,
                                          self.max_electrodes, self.peak_threshold)
        # Thresholding logits at logit(t) equals thresholding sigmoid(logits) at t, without the exp.
        cut = float(np.log(self.mask_threshold / (1.0 - self.mask_threshold)))
        found = []
        for i, shape in enumerate(shapes):
            logits = np.asarray(outputs["mask"][i, 0], np.float32) if "mask" in outputs else None
            small_mask = logits >= cut if logits is not None else None
            peaks = peaks_all[i] if peaks_all is not None else None
            types = _softmax(np.asarray(outputs["type"][i], np.float32)) if "type" in outputs else None
            results = analyse_frame(small_mask, peaks, meta=metas[i], type_probabilities=types,
                                    type_classifier=self.type_classifier,
                                    image_size=(self.input_size, self.input_size))
            mask = None
            if logits is not None:
                if logits.shape == tuple(shape):  # already thresholded at this size
                    mask = small_mask.view(np.uint8)
                else:
                    full = cv2.resize(logits, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
                    mask = (full >= cut).astype(np.uint8)
            found.append(rescale_results(results, tuple(shape), mask))
        return found

    # ---------------------------------------------------------------- use
    def predict_batch(self, images: list[np.ndarray], metas: list[dict] | None = None) -> list[Results]:
        """Predict a batch of images; stage timings (ms, per batch) go into each ``meta["timings_ms"]``."""
        metas = [dict(m) for m in metas] if metas else [{} for _ in images]
        names = [str(m.get("source") or m.get("name") or f"image {i}") for i, m in enumerate(metas)]
        t0 = time.perf_counter()
        for m in metas:  # --bit-depth where the file declares none; kept in the meta so overlays scale alike
            if m.get("bits_stored") is None and self.bit_depth is not None:
                m["bits_stored"] = self.bit_depth
        bits = [m.get("bits_stored") for m in metas]
        batch, shapes = self.preprocess(images, names, bits)
        t1 = time.perf_counter()
        outputs = self.network(batch)
        t2 = time.perf_counter()
        results = self.postprocess(outputs, shapes, metas)
        t3 = time.perf_counter()
        timings = {"preprocess": (t1 - t0) * 1e3, "network": (t2 - t1) * 1e3, "postprocess": (t3 - t2) * 1e3}
        for r in results:
            r.meta["timings_ms"] = timings
        return results

    def tracker(self) -> Any:
        """A postprocess Tracker for a sequence of this predictor's Results: a catheter it splits
        between two tracks is retyped by the same learned decision as analyse_frame's catheters,
        and frames of any size are tracked at the network input's scale (its gates' pixels)."""
        from cathx.postprocess.tracking import Tracker

        return Tracker(type_classifier=self.type_classifier, reference_side=self.input_size)

    def __call__(self, image: np.ndarray, meta: dict | None = None) -> Results:
        return self.predict_batch([image], [meta or {}])[0]

    def stream(self, frames: Iterable, batch_size: int = 1) -> Iterator[tuple[Any, Results]]:
        """Predict frames lazily; yields (frame, Results). A frame is an array or an object with
        ``.image`` and ``.meta`` (a Sample or a sources.Frame); at most ``batch_size`` frames are held."""
        pending: list = []
        for frame in frames:
            pending.append(frame)
            if len(pending) >= batch_size:
                yield from self._flush(pending)
                pending = []
        if pending:
            yield from self._flush(pending)

    def _flush(self, frames: list) -> Iterator[tuple[Any, Results]]:
        images = [getattr(f, "image", f) for f in frames]
        metas = [dict(getattr(f, "meta", {}) or {}) for f in frames]
        yield from zip(frames, self.predict_batch(images, metas))


def _type_classifier(stored: Any, path: Path) -> Any:
    """The TypeClassifier a checkpoint or ONNX file carries (a dict, or JSON text in ONNX
    metadata), None when it has none; CathxError naming the file when it is damaged."""
    if not stored:
        return None
    from cathx.postprocess.type_classifier import TypeClassifier

    try:
        return TypeClassifier.from_dict(json.loads(stored) if isinstance(stored, str) else stored)
    except (ValueError, KeyError, TypeError) as exc:
        raise CathxError(f"{path}: damaged type classifier in its metadata ({exc})") from None


def load_torch_checkpoint(path: Path):
    """(model, config, extra) from a cathx checkpoint; CathxError (one line) for anything unusable."""
    from cathx.checkpoint import load_model, read_checkpoint

    try:
        model, config = load_model(path)
        extra = read_checkpoint(path).get("extra") or {}
    except CathxError:
        raise
    except Exception as exc:  # torch / pickle errors on foreign files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CathxError(f"{path}: not a usable cathx checkpoint ({first[:200]})") from None
    return model, config, extra if isinstance(extra, dict) else {}
