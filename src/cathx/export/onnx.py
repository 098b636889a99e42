"""ONNX export: opset >= 17, dynamic batch, standard operators only, named outputs; verified
against ONNX Runtime. Optional float16 copy and static int8 (QDQ, per-channel, reduce_range)
calibrated on synthetic frames.

The network returns a dict; ``OutputAdapter`` turns it into a tuple in OUTPUT_NAMES order so
the graph outputs carry the same names ("mask", "heatmap", "size").
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cathx.errors import CathxError, first_line
from cathx.structures import OUTPUT_NAMES

log = logging.getLogger(__name__)

MIN_OPSET = 17


class OutputAdapter(nn.Module):
    """Wraps a dict-returning network: forward returns the outputs present, in OUTPUT_NAMES order."""

    def __init__(self, model: nn.Module, names: tuple[str, ...]) -> None:
        super().__init__()
        self.model = model
        self.names = names

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs = self.model(image)
        return tuple(outputs[name] for name in self.names)


def output_names(model: nn.Module, input_size: int, in_channels: int = 1) -> tuple[str, ...]:
    """The OUTPUT_NAMES a model actually returns (single-task models lack some)."""
    with torch.inference_mode():
        outputs = model(torch.zeros(1, in_channels, input_size, input_size))
    return tuple(name for name in OUTPUT_NAMES if name in outputs)


def export_onnx(
    model: nn.Module,
    path: Path | str,
    input_size: int = 256,
    in_channels: int = 1,
    opset: int = MIN_OPSET,
    metadata: dict[str, str] | None = None,
) -> tuple[str, ...]:
    """Export ``model`` (eval mode) to ``path``; input "image" (batch, C, S, S), batch dynamic.

    Returns the output names. ``metadata`` is stored in the model's metadata_props (the
    Predictor reads "input_size" and "output_stride" from there).
    """
    import onnx

    if opset < MIN_OPSET:
        raise CathxError(f"--opset {opset}: must be >= {MIN_OPSET}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval().float()
    names = output_names(model, input_size, in_channels)
    adapter = OutputAdapter(model, names).eval()
    example = torch.rand(1, in_channels, input_size, input_size)
    dynamic = {"image": {0: "batch"}, **{name: {0: "batch"} for name in names}}
    with _partial(path) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(adapter, (example,), str(tmp), input_names=["image"], output_names=list(names),
                              dynamic_axes=dynamic, opset_version=opset, do_constant_folding=True, dynamo=False)
        proto = onnx.load(str(tmp))
        meta = {"input_size": str(input_size), "output_stride": str(model.output_stride),
                "outputs": ",".join(names), **(metadata or {})}
        for key, value in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, str(value)
        onnx.checker.check_model(proto)
        custom = sorted({node.domain for node in proto.graph.node if node.domain not in ("", "ai.onnx")})
        if custom:
            raise CathxError(f"{path}: export produced custom operator domains {custom}")
        onnx.save(proto, str(tmp))
    return names


@contextlib.contextmanager
def _partial(path: Path) -> Iterator[Path]:
    """A hidden temporary name beside ``path``, renamed onto it when the block ends normally and
    removed when it raises, so a failed export leaves neither a half-written model nor debris."""
    tmp = path.with_name(f".{path.name}.partial")
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)


def run_onnx(path: Path | str, batch: np.ndarray) -> dict[str, np.ndarray]:
    """Outputs of ONNX Runtime (CPU) for a (B, C, S, S) float32 batch, by name."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    values = session.run(None, {session.get_inputs()[0].name: batch.astype(np.float32)})
    return {o.name: v.astype(np.float32) for o, v in zip(session.get_outputs(), values)}


def compare_outputs(model: nn.Module, path: Path | str, batch: np.ndarray) -> dict[str, float]:
    """Max absolute difference between ONNX Runtime and PyTorch per output, on ``batch``."""
    with torch.inference_mode():
        reference = {k: v.float().numpy() for k, v in model.eval()(torch.from_numpy(batch)).items()}
    ort_out = run_onnx(path, batch)
    return {name: float(np.abs(ort_out[name] - reference[name]).max()) for name in ort_out}


def convert_fp16(source: Path | str, target: Path | str) -> Path:
    """Float16 copy of an fp32 ONNX model; inputs and outputs stay float32."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    proto = convert_float_to_float16(onnx.load(str(source)), keep_io_types=True)
    with _partial(Path(target)) as tmp:
        onnx.save(proto, str(tmp))
    return Path(target)


class SyntheticCalibration:
    """onnxruntime CalibrationDataReader over synthetic frames (cathx.data.synthetic)."""

    def __init__(self, input_name: str, frames: int, input_size: int, seed: int = 10_000,
                 in_channels: int = 1) -> None:
        self.input_name, self.frames, self.input_size, self.seed = input_name, frames, input_size, seed
        self.in_channels = in_channels
        self._iterator: Iterator[dict[str, np.ndarray]] | None = None

    def _batches(self) -> Iterator[dict[str, np.ndarray]]:
        from cathx.data.synthetic import generate_images

        # seeds apart from the usual train/test ones; the grey frame repeated on every input channel
        for image in generate_images(self.frames, self.input_size, self.seed):
            yield {self.input_name: np.repeat(image[None, None], self.in_channels, axis=1)}

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._iterator is None:
            self._iterator = self._batches()
        return next(self._iterator, None)

    def rewind(self) -> None:
        self._iterator = None


def quantize_int8(source: Path | str, target: Path | str, frames: int = 32, input_size: int = 256,
                  in_channels: int = 1) -> Path:
    """Static int8 QDQ copy (per-channel weights, reduce_range for CPUs without VNNI), calibrated
    with MinMax on ``frames`` synthetic frames."""
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    source, target = Path(source), Path(target)
    prepared = target.with_name(f".{target.stem}.pre.onnx")
    try:
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    except Exception as exc:  # pre-processing is an optimisation; quantize the original instead
        log.warning("quant_pre_process failed (%s); quantizing the unprocessed model", exc)
        prepared = source
    input_name = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"]).get_inputs()[0].name
    try:
        with _partial(target) as tmp:
            quantize_static(
                str(prepared), str(tmp), SyntheticCalibration(input_name, frames, input_size, in_channels=in_channels),
                quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=True,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
            )
    finally:
        if prepared != source:
            prepared.unlink(missing_ok=True)
    return target


def export_checkpoint(
    weights: Path | str,
    out: Path | str,
    input_size: int | None = None,
    opset: int = MIN_OPSET,
    fp16: bool = False,
    int8: bool = False,
    calibration_frames: int = 32,
    verify_frames: int = 2,
) -> dict[str, Any]:
    """Export a cathx checkpoint (and optional fp16 / int8 copies); report each copy's maximum
    output deviation from PyTorch on synthetic frames. input_size: the side recorded in the model
    (what ONNX Runtime predicts at); None = the side the network was trained at
    (``checkpoint.trained_input_size``, as `cathx predict` runs it with torch)."""
    from cathx.checkpoint import load_model
    from cathx.data.synthetic import generate_images

    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise CathxError(f"{out}: the output name must end in .onnx")
    model, config = load_model(Path(weights))
    in_channels = int(getattr(config, "in_channels", 1))
    description = (f"cathx {getattr(config, 'name', 'model')} {getattr(config, 'encoder', '')} "
                   f"from {Path(weights).name}")
    metadata = {"description": description}
    from cathx.checkpoint import read_checkpoint, trained_input_size

    extra = read_checkpoint(Path(weights)).get("extra") or {}
    input_size = input_size or trained_input_size(Path(weights), extra)
    classifier = extra.get("type_classifier")
    if classifier:  # the learned catheter-type decision travels with the network (Predictor reads it)
        metadata["type_classifier"] = json.dumps(classifier)
    export_onnx(model, out, input_size, in_channels, opset, metadata)
    batch = np.stack(list(generate_images(verify_frames, input_size, seed=20_000)))[:, None]
    if in_channels != 1:
        batch = np.repeat(batch, in_channels, axis=1)
    variants = [{"path": str(out), "kind": "fp32", "max_abs_diff": compare_outputs(model, out, batch)}]
    copies = []
    if fp16:
        copies.append(("fp16", lambda: convert_fp16(out, out.with_suffix(".fp16.onnx"))))
    if int8:
        copies.append(("int8", lambda: quantize_int8(out, out.with_suffix(".int8.onnx"), calibration_frames,
                                                     input_size, in_channels)))
    for kind, make in copies:
        try:
            path = make()
            variants.append({"path": str(path), "kind": kind, "max_abs_diff": compare_outputs(model, path, batch)})
        except CathxError:
            raise
        except Exception as exc:  # noqa: BLE001 - onnxruntime's own error types: one line, not a traceback
            first = first_line(exc)[:200]
            written = ", ".join(v["path"] for v in variants)
            raise CathxError(f"{out}: the {kind} copy failed ({first}); written before it: {written}") from None
    return {"weights": str(weights), "opset": opset, "input_size": input_size, "variants": variants}
