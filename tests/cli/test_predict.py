"""`cathx predict` / `cathx export` end to end on a tiny random-weight model, and every bad input."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from builders import write_dicom

from cathx.checkpoint import save_checkpoint
from cathx.models import build_model, model_profile

TINY = dict(latent_channels=32, decoder_channels=(16, 16), head_channels=8)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    cfg = model_profile("demo", **TINY)
    path = tmp_path_factory.mktemp("w") / "tiny.pt"
    save_checkpoint(path, build_model(cfg), cfg, extra={"input_size": 64})
    return path


def _images(folder, count=3, size=(70, 60)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        cv2.imwrite(str(folder / f"f{i}.png"), (rng.random(size) * 255).astype(np.uint8))
    return folder


def test_predict_folder_writes_every_output(run_cli, weights, tmp_path):
    source = _images(tmp_path / "in")
    cv2.imwrite(str(source / "rgb.png"), np.full((50, 40, 3), 128, np.uint8))
    cv2.imwrite(str(source / "deep.png"), np.full((50, 40), 3000, np.uint16))
    out = tmp_path / "out"
    result = run_cli("predict", source, "--weights", weights, "--out", out, "--peak-threshold", 0.0)
    assert result.exit_code == 0, result.stderr
    names = ["deep", "f0", "f1", "f2", "rgb"]
    assert sorted(p.stem for p in (out / "masks").glob("*.png")) == names
    assert sorted(p.stem for p in (out / "overlays").glob("*.png")) == names
    mask = cv2.imread(str(out / "masks" / "f0.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (70, 60) and set(np.unique(mask)) <= {0, 255}
    assert cv2.imread(str(out / "overlays" / "rgb.png")).shape == (50, 40, 3)
    payload = json.loads((out / "json" / "f1.json").read_text())
    assert payload["image_size"] == {"height": 70, "width": 60}
    assert 0 < len(payload["electrodes"]) <= 64 and {"x", "y", "score", "catheter_id", "index"} <= set(payload["electrodes"][0])
    lines = (out / "electrodes.csv").read_text().splitlines()
    per_frame = [len(json.loads(p.read_text())["electrodes"]) for p in (out / "json").glob("*.json")]
    assert lines[0].startswith("frame,name,x,y,score") and len(lines) == 1 + sum(per_frame) and len(per_frame) == 5
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 5 and summary["kind"] == "folder"
    assert "5 frames" in result.stdout


def test_predict_video_and_dicom_sequences(run_cli, weights, tmp_path):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 64))
    for i in range(4):
        writer.write(np.full((64, 64, 3), 30 * i, np.uint8))
    writer.release()
    result = run_cli("predict", video, "--weights", weights, "--out", tmp_path / "v")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "v" / "overlay.mp4").stat().st_size > 0
    assert len((tmp_path / "v" / "motion.csv").read_text().splitlines()) == 5
    assert (tmp_path / "v" / "motion.png").read_bytes()[:4] == b"\x89PNG"
    assert len(list((tmp_path / "v" / "masks").glob("clip_*.png"))) == 4

    write_dicom(tmp_path / "run.dcm", np.random.default_rng(0).integers(0, 4096, (3, 48, 48)), FrameTime=100.0)
    result = run_cli("predict", tmp_path / "run.dcm", "--weights", weights, "--out", tmp_path / "d")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.stem for p in (tmp_path / "d" / "masks").glob("*.png")) == [f"run_{i:05d}" for i in range(3)]
    cap = cv2.VideoCapture(str(tmp_path / "d" / "overlay.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3

    # a multi-page TIFF (an ImageJ stack) is a sequence of its pages, not its first page alone
    assert cv2.imwritemulti(str(tmp_path / "stack.tif"), [np.full((48, 48), 40 * i, np.uint8) for i in range(3)])
    result = run_cli("predict", tmp_path / "stack.tif", "--weights", weights, "--out", tmp_path / "t")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.stem for p in (tmp_path / "t" / "masks").glob("*.png")) == [f"stack_{i:05d}" for i in range(3)]
    assert json.loads((tmp_path / "t" / "summary.json").read_text())["kind"] == "stack"
    assert (tmp_path / "t" / "overlay.mp4").stat().st_size > 0


def test_tiny_image_stops_with_one_line_and_keeps_earlier_outputs(run_cli, weights, tmp_path):
    source = _images(tmp_path / "in", count=2)
    cv2.imwrite(str(source / "z_tiny.png"), np.zeros((8, 8), np.uint8))
    out = tmp_path / "out"
    result = run_cli("predict", source, "--weights", weights, "--out", out)
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "z_tiny.png" in result.stderr and "8x8" in result.stderr
    assert sorted(p.stem for p in (out / "masks").glob("*.png")) == ["f0", "f1"]
    assert len((out / "json").glob("*.json").__iter__().__next__().read_text()) > 0


def _other_architecture(tmp_path):
    """Weights of a resnet34 stored under a resnet18 config: shapes do not match."""
    big = build_model(model_profile("demo", encoder="resnet34", **TINY))
    path = tmp_path / "other.pt"
    save_checkpoint(path, big, model_profile("demo", **TINY))
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("empty_folder", "folder is empty"),
        ("missing_source", "no such file"),
        ("truncated_weights", "truncated"),
        ("other_architecture", "do not match"),
        ("foreign_weights", "not a cathx checkpoint"),
        ("unreadable_video", "clip.mp4"),
        ("unreadable_dicom", "scan.dcm"),
        ("onnx_without_backend", "not a loadable ONNX model"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(run_cli, weights, tmp_path, case, message):
    source, weight_file = _images(tmp_path / "in", count=1), weights
    if case == "empty_folder":
        source = tmp_path / "empty"
        source.mkdir()
    elif case == "missing_source":
        source = tmp_path / "nothing.png"
    elif case == "truncated_weights":
        weight_file = tmp_path / "cut.pt"
        weight_file.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif case == "other_architecture":
        weight_file = _other_architecture(tmp_path)
    elif case == "foreign_weights":
        weight_file = tmp_path / "resnet.pt"
        torch.save({"conv1.weight": torch.zeros(3)}, weight_file)
    elif case == "unreadable_video":
        source = tmp_path / "clip.mp4"
        source.write_bytes(b"\x00\x01garbage" * 50)
    elif case == "unreadable_dicom":
        source = tmp_path / "scan.dcm"
        source.write_bytes(b"DICM" * 10)
    elif case == "onnx_without_backend":
        weight_file = tmp_path / "fake.onnx"
        weight_file.write_bytes(b"not onnx")
    result = run_cli("predict", source, "--weights", weight_file, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_export_command_writes_onnx_and_reports_deviation(run_cli, weights, tmp_path):
    out = tmp_path / "m.onnx"
    result = run_cli("export", "--weights", weights, "--format", "onnx", "--out", out, "--input-size", 64)
    assert result.exit_code == 0, result.stderr
    assert out.stat().st_size > 0 and "max |ORT - torch|" in result.stdout
    # the graph's image axes are fixed at export: another input size is refused in one line, not
    # an onnxruntime traceback at the first frame; the exported size is the default
    frame = tmp_path / "f.png"
    cv2.imwrite(str(frame), np.zeros((64, 64), np.uint8))
    result = run_cli("predict", frame, "-w", out, "--backend", "onnx", "-o", tmp_path / "p", "--input-size", 128)
    assert result.exit_code == 2 and "m.onnx: exported for 64-px input, not 128" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    from cathx.inference.predictor import Predictor

    assert Predictor.from_checkpoint(out, backend="onnx").input_size == 64
    result = run_cli("export", "--weights", weights, "--format", "tflite", "--out", out)
    assert result.exit_code == 2 and "tflite" in result.stderr


def test_huge_image_is_converted_not_refused(run_cli, weights, tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    image = np.zeros((8000, 8000), np.uint8)
    image[3990:4010] = 200
    cv2.imwrite(str(source / "huge.png"), image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    result = run_cli("predict", source, "--weights", weights, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    payload = json.loads((tmp_path / "out" / "json" / "huge.json").read_text())
    assert payload["image_size"] == {"height": 8000, "width": 8000}
    assert cv2.imread(str(tmp_path / "out" / "masks" / "huge.png"), cv2.IMREAD_UNCHANGED).shape == (8000, 8000)


def test_predict_reports_symlinks_out_of_the_folder(run_cli, weights, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    ok, png = cv2.imencode(".png", np.zeros((64, 64), np.uint8))
    (folder / "a.png").write_bytes(png.tobytes())
    (folder / "b.png").symlink_to(tmp_path / "elsewhere.png")
    result = run_cli("predict", folder, "-w", weights, "-o", tmp_path / "out", "--input-size", "64")
    assert result.exit_code == 0, result.stderr
    assert f"{folder}: 1 sample(s) skipped, 1 problem(s) while reading:" in result.stderr
    assert f"{folder / 'b.png'}: broken symlink (skipped)" in result.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--engine", "spark"], "--engine 'spark': choose from local, ray"),
        (["--address", "auto"], "--address auto: only used with --engine ray"),
        (["--engine", "ray", "--workers", "0"], "--workers 0: must be at least 1"),
        (["--engine", "ray", "--address", "auto"], "--address auto: could not connect to Ray (Could not find any"),
        (["--engine", "ray", "MANIFEST"], "list.csv: the manifest names no existing file (2 missing)"),
    ],
)
def test_ray_engine_bad_inputs_exit_2_with_one_line(run_cli, weights, tmp_path, monkeypatch, options, message):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    source = _images(tmp_path / "in", count=1)
    if "MANIFEST" in options:
        source = tmp_path / "list.csv"
        source.write_text("path\ngone.png\nalso/gone.dcm\n")
        options = [o for o in options if o != "MANIFEST"]
    result = run_cli("predict", source, "--weights", weights, "--out", tmp_path / "out", *options)
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


def test_tta_predicts_the_mirror_averaged_mask(run_cli, weights, tmp_path):
    from cathx.inference.predictor import Predictor

    source = _images(tmp_path / "in", count=1)
    result = run_cli("predict", source, "-w", weights, "-o", tmp_path / "out", "--tta", "--mask-threshold", 0.5)
    assert result.exit_code == 0, result.stderr
    written = cv2.imread(str(tmp_path / "out" / "masks" / "f0.png"), cv2.IMREAD_UNCHANGED) > 0
    image = cv2.imread(str(source / "f0.png"), cv2.IMREAD_UNCHANGED)
    averaged = Predictor.from_checkpoint(weights, tta=True)(image).mask > 0
    assert np.array_equal(written, averaged)
    assert "flip TTA" in Predictor.from_checkpoint(weights, tta=True).description


@pytest.mark.parametrize(("extra", "message"), [
    (["--engine", "ray"], "--tta: only with --engine local"),
    (["--backend", "onnx"], "needs the torch backend"),
])
def test_tta_refuses_what_it_cannot_do_with_one_line(run_cli, weights, tmp_path, extra, message):
    source = _images(tmp_path / "in", count=1)
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"x")
    chosen = onnx if "onnx" in extra else weights
    result = run_cli("predict", source, "-w", chosen, "-o", tmp_path / "out", "--tta", *extra)
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("extra", "message"), [
    (["--precision", "fp16"], "error: --precision 'fp16': choose from auto, fp32, bf16"),
    (["--precision", "bf16", "--backend", "onnx"], "m.onnx: precision bf16 needs the torch backend"),
])
def test_precision_refuses_what_it_cannot_do_with_one_line(run_cli, weights, tmp_path, extra, message):
    source = _images(tmp_path / "in", count=1)
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"x")
    chosen = onnx if "onnx" in extra else weights
    result = run_cli("predict", source, "-w", chosen, "-o", tmp_path / "out", *extra)
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert message in " ".join(result.stderr.split()), result.stderr


def test_predict_reports_the_precision_it_ran_in(run_cli, weights, tmp_path):
    import json

    source = _images(tmp_path / "in", count=1)
    result = run_cli("predict", source, "-w", weights, "-o", tmp_path / "out", "--precision", "fp32")
    assert result.exit_code == 0, result.stderr
    assert "fp32" in result.stdout
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["precision"] == "fp32"


def test_export_records_the_trained_input_size_and_writes_safetensors(run_cli, weights, tmp_path):
    """Without --input-size the ONNX model records the side the network was trained at (64 here),
    as `cathx predict` with torch runs it; --format safetensors gives the shipped format."""
    import onnx

    out = tmp_path / "m.onnx"
    result = run_cli("export", "--weights", weights, "--out", out)
    assert result.exit_code == 0, result.stderr
    meta = {entry.key: entry.value for entry in onnx.load(str(out)).metadata_props}
    assert meta["input_size"] == "64"
    assert not list(tmp_path.glob(".*partial*"))
    copy = tmp_path / "m.safetensors"
    result = run_cli("export", "--weights", weights, "--format", "safetensors", "--out", copy)
    assert result.exit_code == 0, result.stderr
    assert "input 64 px" in result.stdout
    from cathx.checkpoint import read_checkpoint

    assert read_checkpoint(copy)["extra"]["input_size"] == 64
    result = run_cli("export", "--weights", weights, "--format", "safetensors", "--out", tmp_path / "m.pt")
    assert result.exit_code == 2 and "must be a .safetensors file name" in result.stderr
    for option in (("--int8",), ("--input-size", 128), ("--opset", 18)):  # said, not silently ignored
        result = run_cli("export", "--weights", weights, "--format", "safetensors", "--out", tmp_path / "n.safetensors",
                         *option)
        assert result.exit_code == 2 and f"{option[0]}: an ONNX export option" in result.stderr, result.stderr


def test_export_refuses_a_folder_where_a_copy_goes_before_writing_anything(run_cli, weights, tmp_path):
    (tmp_path / "m.int8.onnx").mkdir()
    result = run_cli("export", "--weights", weights, "--out", tmp_path / "m.onnx", "--int8")
    assert result.exit_code == 2, result.stderr
    assert "--int8" in result.stderr and "m.int8.onnx: is a folder" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "m.onnx").exists()
