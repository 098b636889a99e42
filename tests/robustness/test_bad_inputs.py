"""The bad-input corpus: every command, given a wrong file, folder, option or config, exits 2 with one
error line naming it, no traceback, and changes no file it did not write.

Table-driven over one shared workspace of tiny generated files; each case is the command line (with
{placeholders} for workspace paths) and text the error line must contain. In-process (cathx.cli.main)
to stay fast; the last test checks that no input of the workspace changed.
"""

from __future__ import annotations

import hashlib
import os
import stat

import cv2
import numpy as np
import pytest
import yaml
from builders import dicom_declaring
from tiny_configs import TINY_TRAIN

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def _train_config(**changes) -> dict:
    config = yaml.safe_load(yaml.safe_dump(TINY_TRAIN))
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        if section == "stages":
            config["stages"][0][key] = value
        else:
            config.setdefault(section, {})[key] = value
    return config


def _png(path, image):
    ok, data = cv2.imencode(".png", image)
    assert ok
    path.write_bytes(data.tobytes())
    return path


def _huge_png_header(path, width, height):
    """A PNG whose header declares width x height but holds no pixels: refused before decoding."""
    import struct
    import zlib

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", len(header)) + b"IHDR" + header + struct.pack(">I", zlib.crc32(b"IHDR" + header))
    end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk + end)
    return path


@pytest.fixture(scope="module")
def ws(tmp_path_factory, tiny_checkpoint):
    """Paths of the shared workspace, by placeholder name."""
    root = tmp_path_factory.mktemp("corpus")
    paths = {"root": root, "ckpt": tiny_checkpoint, "missing": root / "does-not-exist"}
    image = np.random.default_rng(0).integers(0, 255, (64, 64)).astype(np.uint8)
    paths["img"] = _png(root / "img.png", image)
    paths["tiny_img"] = _png(root / "tiny.png", np.zeros((8, 8), np.uint8))
    paths["empty_png"] = root / "empty.png"
    paths["empty_png"].write_bytes(b"")
    paths["text_png"] = root / "text.png"
    paths["text_png"].write_text("this is not an image\n")
    data = paths["img"].read_bytes()
    paths["trunc_png"] = root / "trunc.png"
    paths["trunc_png"].write_bytes(data[: len(data) // 2])
    paths["huge_png"] = _huge_png_header(root / "huge.png", 20000, 20000)
    paths["fake_avi"] = root / "fake.avi"
    paths["fake_avi"].write_bytes(data)
    paths["fake_mp4"] = root / "noise.mp4"
    paths["fake_mp4"].write_bytes(os.urandom(2048))
    paths["fake_dcm"] = root / "fake.dcm"
    paths["fake_dcm"].write_text("not DICOM\n")
    paths["txt"] = root / "notes.txt"
    paths["txt"].write_text("hello\n")
    paths["garbage_h5"] = root / "garbage.h5"
    paths["garbage_h5"].write_bytes(os.urandom(512))
    paths["empty_dir"] = root / "empty_dir"
    paths["empty_dir"].mkdir()
    paths["txt_dir"] = root / "txt_dir"
    paths["txt_dir"].mkdir()
    (paths["txt_dir"] / "readme.txt").write_text("no images here\n")
    paths["bad_img_dir"] = root / "bad_img_dir"
    paths["bad_img_dir"].mkdir()
    (paths["bad_img_dir"] / "a.png").write_text("not a png")

    # weights: empty, text, truncated, an .onnx that is not ONNX, a folder
    paths["empty_pt"] = root / "empty.pt"
    paths["empty_pt"].write_bytes(b"")
    paths["text_pt"] = root / "text.pt"
    paths["text_pt"].write_text("not a checkpoint\n")
    checkpoint = tiny_checkpoint.read_bytes()
    paths["trunc_pt"] = root / "trunc.pt"
    paths["trunc_pt"].write_bytes(checkpoint[: len(checkpoint) // 3])
    paths["bad_onnx"] = root / "bad.onnx"
    paths["bad_onnx"].write_bytes(os.urandom(256))

    # a dataset (XRayCath layout) and a user's folder of results
    from cathx.data.synthetic.writer import write_dataset

    paths["dataset"] = write_dataset(root / "dataset", n=6, size=64, seed=0, workers=1)
    # header bombs, and a dataset whose annotations.json points outside it
    paths["frames_dcm"] = dicom_declaring(root / "frames.dcm", 4096, 4096, 100000)
    paths["side_dcm"] = dicom_declaring(root / "side.dcm", 65535, 65535, 1)
    paths["short_dcm"] = dicom_declaring(root / "short.dcm", 1024, 1024, 30)
    import h5py

    paths["huge_h5"] = root / "huge.h5"
    with h5py.File(paths["huge_h5"], "w") as handle:
        handle.create_dataset("test", shape=(4, 65535, 65535), dtype="uint16", chunks=(1, 64, 64))
    import json
    import shutil

    paths["escape_set"] = root / "escape_set"
    shutil.copytree(paths["dataset"], paths["escape_set"])
    document = json.loads((paths["escape_set"] / "annotations.json").read_text())
    document["images"][0]["file_name"] = "../../../../etc/passwd"
    document["images"][1]["file_name"] = str(paths["img"])
    (paths["escape_set"] / "annotations.json").write_text(json.dumps(document))
    paths["user_dir"] = root / "user_results"
    paths["user_dir"].mkdir()
    (paths["user_dir"] / "electrodes.csv").write_text("my,own,table\n")
    (paths["user_dir"] / "summary.json").write_text("{}\n")
    paths["a_file"] = root / "a_file.txt"
    paths["a_file"].write_text("a user's file\n")
    paths["readonly"] = root / "readonly"
    paths["readonly"].mkdir()
    paths["readonly"].chmod(stat.S_IRUSR | stat.S_IXUSR)

    # configs
    configs = root / "configs"
    configs.mkdir()
    bad_configs = {
        "empty": "",
        "list": "- 1\n- 2\n",
        "not_yaml": "data: [unclosed\n",
        "unknown_key": yaml.safe_dump({**TINY_TRAIN, "epochz": 3}),
        "neg_batch": yaml.safe_dump(_train_config(data__batch_size=-4)),
        "zero_batch": yaml.safe_dump(_train_config(data__batch_size=0)),
        "zero_epochs": yaml.safe_dump(_train_config(stages__epochs=0)),
        "neg_epochs": yaml.safe_dump(_train_config(stages__epochs=-1)),
        "zero_steps": yaml.safe_dump(_train_config(stages__max_steps=0)),
        "size_33": yaml.safe_dump(_train_config(data__size=33)),
        "size_0": yaml.safe_dump(_train_config(data__size=0)),
        "neg_lr": yaml.safe_dump(_train_config(optim__lr=-0.1)),
        "neg_workers": yaml.safe_dump(_train_config(data__num_workers=-1)),
        "zero_devices": yaml.safe_dump(_train_config(trainer__devices=0)),
        "bad_choice": yaml.safe_dump(_train_config(trainer__precision="64-true")),
        "bad_type": yaml.safe_dump(_train_config(data__batch_size="eight")),
        "bad_encoder": yaml.safe_dump({**TINY_TRAIN, "model": {"encoder": "resnet999"}}),
        "bad_alpha": yaml.safe_dump({**TINY_TRAIN, "prioritization": {"alpha": 0.0}}),
        "no_stages": yaml.safe_dump({**TINY_TRAIN, "stages": []}),
        "cls_bad_backbone": "model: {backbone: resnet50}\n",
        "cls_unknown": "modell: {}\n",
        "synth_unknown": "catheterz: 3\n",
    }
    for name, text in bad_configs.items():
        paths[f"cfg_{name}"] = configs / f"{name}.yaml"
        paths[f"cfg_{name}"].write_text(text)
    paths["cfg_binary"] = configs / "binary.yaml"
    paths["cfg_binary"].write_bytes(b"\xff\xfe\x00\x81" * 16)
    paths["cfg_ok"] = configs / "ok.yaml"
    paths["cfg_ok"].write_text(yaml.safe_dump(TINY_TRAIN))

    # a run folder whose last checkpoint was cut short (a killed save), for --resume
    run = root / "run_truncated"
    (run / "stages" / "multitask" / "checkpoints").mkdir(parents=True)
    from cathx.config import to_dict
    from cathx.training.config import load_train_config

    (run / "config.yaml").write_text(yaml.safe_dump(to_dict(load_train_config(paths["cfg_ok"])), sort_keys=False))
    (run / "stages" / "multitask" / "checkpoints" / "last.ckpt").write_bytes(checkpoint[: len(checkpoint) // 2])
    paths["run_truncated"] = run

    paths["fresh"] = root / "fresh"  # output folders: each case gets fresh/<case id>
    snapshot = _hashes(root, skip=("fresh", "run_truncated"))
    yield paths
    paths["readonly"].chmod(stat.S_IRWXU)
    assert _hashes(root, skip=("fresh", "run_truncated")) == snapshot, "an input file changed"


def _hashes(root, skip=()):
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if os.path.relpath(os.path.join(dirpath, d), root) not in skip]
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, root)] = hashlib.sha256(handle.read()).hexdigest()
        if os.path.relpath(dirpath, root) != ".":
            found.setdefault(os.path.relpath(dirpath, root) + "/", "dir")
    return found


# (id, command line, text the error line must contain). {name}: a workspace path; {out}: a fresh,
# absent output folder for this case; {out_onnx}: a fresh .onnx path.
W = ["-w", "{ckpt}"]
CASES: list[tuple[str, str, str]] = [
    # ---------------------------------------------------------------- predict: sources
    ("predict-missing-source", "predict {missing} -w {ckpt} -o {out}", "no such file or folder"),
    ("predict-empty-folder", "predict {empty_dir} -w {ckpt} -o {out}", "folder is empty"),
    ("predict-folder-of-text", "predict {txt_dir} -w {ckpt} -o {out}", "no images, videos or DICOM"),
    ("predict-empty-png", "predict {empty_png} -w {ckpt} -o {out}", "empty (0 bytes)"),
    ("predict-text-as-png", "predict {text_png} -w {ckpt} -o {out}", "not a readable image"),
    ("predict-truncated-png", "predict {trunc_png} -w {ckpt} -o {out}", "trunc.png"),
    ("predict-tiny-image", "predict {tiny_img} -w {ckpt} -o {out}", "smallest supported"),
    ("predict-huge-header", "predict {huge_png} -w {ckpt} -o {out}", "refused before decoding"),
    ("predict-chest-weights", "predict {img} -w cathx-chest -o {out}", "a chest X-ray line/tube classifier"),
    ("predict-png-named-avi", "predict {fake_avi} -w {ckpt} -o {out}", "is a PNG image, not a video"),
    ("predict-noise-mp4", "predict {fake_mp4} -w {ckpt} -o {out}", "noise.mp4"),
    ("predict-text-as-dicom", "predict {fake_dcm} -w {ckpt} -o {out}", "fake.dcm"),
    ("predict-unsupported-suffix", "predict {txt} -w {ckpt} -o {out}", "unsupported file type .txt"),
    ("predict-folder-bad-image", "predict {bad_img_dir} -w {ckpt} -o {out}", "a.png"),
    ("predict-h5-source", "predict {garbage_h5} -w {ckpt} -o {out}", "garbage.h5"),
    # ---------------------------------------------------------------- predict: weights
    ("predict-missing-weights", "predict {img} -w {missing} -o {out}", "weights file not found"),
    ("predict-empty-weights", "predict {img} -w {empty_pt} -o {out}", "empty (0 bytes)"),
    ("predict-text-weights", "predict {img} -w {text_pt} -o {out}", "text.pt"),
    ("predict-truncated-weights", "predict {img} -w {trunc_pt} -o {out}", "trunc.pt"),
    ("predict-weights-is-folder", "predict {img} -w {empty_dir} -o {out}", "weights file not found"),
    ("predict-weights-is-image", "predict {img} -w {img} -o {out}", "img.png"),
    ("predict-bad-onnx", "predict {img} -w {bad_onnx} -o {out}", "not a loadable ONNX model"),
    ("predict-pt-with-onnx-backend", "predict {img} -w {ckpt} -o {out} --backend onnx", "needs an exported .onnx"),
    ("predict-onnx-with-torch-backend", "predict {img} -w {bad_onnx} -o {out} --backend torch", "needs --backend onnx"),
    ("predict-bad-backend", "predict {img} -w {ckpt} -o {out} --backend tensorrt", "--backend 'tensorrt'"),
    # ---------------------------------------------------------------- predict: options
    ("predict-input-size-0", "predict {img} -w {ckpt} -o {out} --input-size 0", "--input-size 0"),
    ("predict-input-size-33", "predict {img} -w {ckpt} -o {out} --input-size 33", "--input-size 33"),
    ("predict-input-size-7", "predict {img} -w {ckpt} -o {out} --input-size 7", "multiple of 32"),
    ("predict-input-size-neg", "predict {img} -w {ckpt} -o {out} --input-size -64", "--input-size -64"),
    ("predict-input-size-huge", "predict {img} -w {ckpt} -o {out} --input-size 65536", "--input-size 65536"),
    ("predict-input-size-text", "predict {img} -w {ckpt} -o {out} --input-size big", "--input-size"),
    ("predict-mask-threshold-2", "predict {img} -w {ckpt} -o {out} --mask-threshold 2", "--mask-threshold 2"),
    ("predict-mask-threshold-0", "predict {img} -w {ckpt} -o {out} --mask-threshold 0", "--mask-threshold 0"),
    ("predict-mask-threshold-1", "predict {img} -w {ckpt} -o {out} --mask-threshold 1", "--mask-threshold 1"),
    ("predict-mask-threshold-neg", "predict {img} -w {ckpt} -o {out} --mask-threshold -0.5", "--mask-threshold"),
    ("predict-mask-threshold-nan", "predict {img} -w {ckpt} -o {out} --mask-threshold nan", "--mask-threshold"),
    ("predict-peak-threshold-neg", "predict {img} -w {ckpt} -o {out} --peak-threshold -1", "--peak-threshold -1"),
    ("predict-peak-threshold-big", "predict {img} -w {ckpt} -o {out} --peak-threshold 1.5", "--peak-threshold 1.5"),
    ("predict-bit-depth-0", "predict {img} -w {ckpt} -o {out} --bit-depth 0", "--bit-depth 0"),
    ("predict-bit-depth-17", "predict {img} -w {ckpt} -o {out} --bit-depth 17", "--bit-depth 17"),
    ("predict-unknown-option", "predict {img} -w {ckpt} -o {out} --confidence 0.5", "--confidence"),
    ("predict-unknown-model", "predict {img} -w cathx-nosuch -o {out}", "shipped models: cathx-fluoro"),
    ("predict-no-out", "predict {img} -w {ckpt}", "--out"),
    # ---------------------------------------------------------------- predict: outputs
    ("predict-out-is-file", "predict {img} -w {ckpt} -o {a_file}", "is a file, not a folder"),
    ("predict-out-user-folder", "predict {img} -w {ckpt} -o {user_dir}", "cathx did not write"),
    ("predict-out-dataset", "predict {img} -w {ckpt} -o {dataset}", "cathx did not write"),
    ("predict-out-dataset-masks", "predict {img} -w {ckpt} -o {dataset}/masks", "cathx did not write"),
    ("predict-out-readonly", "predict {img} -w {ckpt} -o {readonly}/out", "cannot write here"),
    ("predict-out-under-file", "predict {img} -w {ckpt} -o {a_file}/out", "a_file.txt"),
    ("predict-out-source-folder", "predict {bad_img_dir} -w {ckpt} -o {bad_img_dir}", "a.png"),
    # ---------------------------------------------------------------- val
    ("val-device-tpu", "val -w {ckpt} -d {dataset} -o {out} --device tpu", "--device 'tpu'"),
    ("val-missing-weights", "val --weights {missing} --data {dataset} --out {out}", "does-not-exist"),
    ("val-empty-weights", "val --weights {empty_pt} --data {dataset} --out {out}", "empty.pt"),
    ("val-text-weights", "val --weights {text_pt} --data {dataset} --out {out}", "text.pt"),
    ("val-truncated-weights", "val --weights {trunc_pt} --data {dataset} --out {out}", "trunc.pt"),
    ("val-onnx-weights", "val --weights {bad_onnx} --data {dataset} --out {out}", "bad.onnx"),
    ("val-missing-data", "val --weights {ckpt} --data {missing} --out {out}", "dataset not found"),
    ("val-empty-data", "val --weights {ckpt} --data {empty_dir} --out {out}", "empty_dir"),
    ("val-text-data", "val --weights {ckpt} --data {txt_dir} --out {out}", "txt_dir"),
    ("val-data-is-text-file", "val --weights {ckpt} --data {txt} --out {out}", "notes.txt"),
    ("val-batch-size-0", "val --weights {ckpt} --data {dataset} --out {out} --batch-size 0", "--batch-size 0"),
    ("val-batch-size-neg", "val --weights {ckpt} --data {dataset} --out {out} --batch-size -3", "--batch-size -3"),
    ("val-batch-size-text", "val --weights {ckpt} --data {dataset} --out {out} --batch-size many", "--batch-size"),
    ("val-bad-split", "val --weights {ckpt} --data {dataset} --out {out} --split holdout", "holdout"),
    ("val-out-is-file", "val --weights {ckpt} --data {dataset} --out {a_file}", "is a file, not a folder"),
    ("val-out-user-folder", "val --weights {ckpt} --data {dataset} --out {user_dir}", "cathx did not write"),
    ("val-out-dataset", "val --weights {ckpt} --data {dataset} --out {dataset}", "cathx did not write"),
    ("val-out-readonly", "val --weights {ckpt} --data {dataset} --out {readonly}/eval", "cannot write here"),
    ("val-no-data", "val --weights {ckpt} --out {out}", "--data"),
    # ---------------------------------------------------------------- train
    ("train-missing-config", "train --config {missing} --out {out}", "config file not found"),
    ("train-config-folder", "train --config {empty_dir} --out {out}", "config file not found"),
    ("train-empty-config", "train --config {cfg_empty} --out {out}", "config is empty"),
    ("train-list-config", "train --config {cfg_list} --out {out}", "expected a mapping"),
    ("train-not-yaml", "train --config {cfg_not_yaml} --out {out}", "not valid YAML"),
    ("train-binary-config", "train --config {cfg_binary} --out {out}", "binary.yaml"),
    ("train-unknown-key", "train --config {cfg_unknown_key} --out {out}", "unknown key 'epochz'"),
    ("train-negative-batch", "train --config {cfg_neg_batch} --out {out}", "data.batch_size: must be at least 1"),
    ("train-zero-batch", "train --config {cfg_zero_batch} --out {out}", "data.batch_size"),
    ("train-zero-epochs", "train --config {cfg_zero_epochs} --out {out}", "epochs: must be at least 1"),
    ("train-negative-epochs", "train --config {cfg_neg_epochs} --out {out}", "epochs"),
    ("train-zero-max-steps", "train --config {cfg_zero_steps} --out {out}", "max_steps"),
    ("train-size-33", "train --config {cfg_size_33} --out {out}", "data.size: must be a multiple of 32"),
    ("train-size-0", "train --config {cfg_size_0} --out {out}", "data.size"),
    ("train-negative-lr", "train --config {cfg_neg_lr} --out {out}", "optim.lr"),
    ("train-negative-workers", "train --config {cfg_neg_workers} --out {out}", "data.num_workers"),
    ("train-zero-devices", "train --config {cfg_zero_devices} --out {out}", "trainer.devices"),
    ("train-bad-precision", "train --config {cfg_bad_choice} --out {out}", "64-true"),
    ("train-bad-type", "train --config {cfg_bad_type} --out {out}", "batch_size"),
    ("train-bad-encoder", "train --config {cfg_bad_encoder} --out {out}", "resnet999"),
    ("train-bad-alpha", "train --config {cfg_bad_alpha} --out {out}", "prioritization.alpha"),
    ("train-no-stages", "train --config {cfg_no_stages} --out {out}", "stages"),
    ("train-missing-data", "train --config {cfg_ok} --data {missing} --out {out}", "dataset not found"),
    ("train-max-minutes-0", "train --config {cfg_ok} --out {out} --max-minutes 0", "--max-minutes"),
    ("train-max-minutes-neg", "train --config {cfg_ok} --out {out} --max-minutes -5", "--max-minutes"),
    ("train-out-is-file", "train --config {cfg_ok} --data {dataset} --out {a_file}", "is a file"),
    ("train-resume-truncated", "train --config {cfg_ok} --data {dataset} --out {run_truncated} --resume",
     "truncated or corrupt"),
    ("train-no-config", "train --out {out}", "--config"),
    # ---------------------------------------------------------------- export
    ("export-missing-weights", "export -w {missing} -o {out_onnx}", "does-not-exist"),
    ("export-empty-weights", "export -w {empty_pt} -o {out_onnx}", "empty.pt"),
    ("export-text-weights", "export -w {text_pt} -o {out_onnx}", "text.pt"),
    ("export-truncated-weights", "export -w {trunc_pt} -o {out_onnx}", "trunc.pt"),
    ("export-onnx-as-weights", "export -w {bad_onnx} -o {out_onnx}", "bad.onnx"),
    ("export-input-size-7", "export -w {ckpt} -o {out_onnx} --input-size 7", "--input-size 7"),
    ("export-input-size-33", "export -w {ckpt} -o {out_onnx} --input-size 33", "--input-size 33"),
    ("export-input-size-0", "export -w {ckpt} -o {out_onnx} --input-size 0", "--input-size 0"),
    ("export-opset-11", "export -w {ckpt} -o {out_onnx} --opset 11", "--opset 11"),
    ("export-format-tflite", "export -w {ckpt} -o {out_onnx} --format tflite", "--format 'tflite'"),
    ("export-calibration-0", "export -w {ckpt} -o {out_onnx} --int8 --calibration-frames 0", "--calibration-frames"),
    ("export-out-is-folder", "export -w {ckpt} -o {empty_dir}", "empty_dir"),
    ("export-out-not-onnx", "export -w {ckpt} -o {a_file}", "must be a .onnx file"),
    ("export-out-readonly", "export -w {ckpt} -o {readonly}/m.onnx", "cannot write here"),
    ("export-out-under-file", "export -w {ckpt} -o {a_file}/m.onnx", "cannot write here"),
    ("export-unknown-model", "export -w cathx-nosuch -o {out_onnx}", "no such weights file or shipped model"),
    # ---------------------------------------------------------------- bench
    ("bench-device-tpu", "bench -m demo --device tpu --out {out}", "--device 'tpu'"),
    ("bench-frames-0", "bench -m demo --frames 0 --out {out}", "--frames 0"),
    ("bench-input-size-33", "bench -m demo --input-size 33 --out {out}", "--input-size 33"),
    ("bench-input-size-0", "bench -m demo --input-size 0 --out {out}", "--input-size 0"),
    ("bench-bad-backend", "bench -m demo --backend tensorrt --out {out}", "--backend 'tensorrt'"),
    ("bench-threads-0", "bench -m demo --threads 0 --out {out}", "--threads 0"),
    ("bench-bad-model", "bench -m resnet999-nope --out {out}", "resnet999-nope"),
    ("bench-missing-weights", "bench -w {missing} --out {out}", "does-not-exist"),
    ("bench-text-weights", "bench -w {text_pt} --out {out}", "text.pt"),
    ("bench-out-is-file", "bench -m demo --frames 1 --out {a_file}", "is a file"),
    ("bench-out-readonly", "bench -m demo --frames 1 --out {readonly}/b", "cannot write here"),
    # ---------------------------------------------------------------- benchmark
    ("benchmark-bad-suite", "benchmark --suite everything --out {out}", "everything"),
    ("benchmark-seeds-0", "benchmark --suite smoke --seeds 0 --out {out}", "--seeds"),
    ("benchmark-budget-neg", "benchmark --suite smoke --budget-minutes -1 --out {out}", "--budget-minutes"),
    ("benchmark-total-neg", "benchmark --suite smoke --total-minutes -1 --out {out}", "--total-minutes"),
    ("benchmark-missing-config", "benchmark --suite smoke -c {missing} --out {out}", "does-not-exist"),
    ("benchmark-empty-config", "benchmark --suite smoke -c {cfg_list} --out {out}", "list.yaml"),
    ("benchmark-missing-data", "benchmark --suite smoke --data {missing} --out {out}", "does-not-exist"),
    ("benchmark-bad-variants", "benchmark --suite smoke --variants nope --out {out}", "nope"),
    ("benchmark-profile-size-33", "benchmark --suite smoke --profile-size 33 --out {out}", "--profile-size"),
    ("benchmark-out-is-file", "benchmark --suite smoke --out {a_file}", "a_file.txt"),
    # ---------------------------------------------------------------- synth
    ("synth-n-0", "synth {out} --n 0", "--n"),
    ("synth-n-neg", "synth {out} --n -5", "--n"),
    ("synth-size-10", "synth {out} --n 2 --size 10", "--size"),
    ("synth-size-0", "synth {out} --n 2 --size 0", "--size"),
    ("synth-workers-0", "synth {out} --n 2 --workers 0", "--workers"),
    ("synth-bit-depth-12", "synth {out} --n 2 --bit-depth 12", "--bit-depth"),
    ("synth-fps-0", "synth {out} --n 4 --sequences 1 --frames 2 --fps 0", "--fps"),
    ("synth-frames-0", "synth {out} --n 4 --sequences 1 --frames 0", "--frames"),
    ("synth-sequences-neg", "synth {out} --n 4 --sequences -1", "--sequences"),
    ("synth-bad-types", "synth {out} --n 2 --catheter-types spaghetti", "spaghetti"),
    ("synth-missing-config", "synth {out} --n 2 --config {missing}", "does-not-exist"),
    ("synth-bad-config", "synth {out} --n 2 --config {cfg_synth_unknown}", "catheterz"),
    ("synth-out-is-file", "synth {a_file} --n 2", "a_file.txt"),
    ("synth-out-user-folder", "synth {user_dir} --n 2", "user_results"),
    ("synth-out-user-folder-overwrite", "synth {user_dir} --n 2 --overwrite", "user_results"),
    ("synth-out-readonly", "synth {readonly}/s --n 2", "cannot write here"),
    # ---------------------------------------------------------------- data check / convert
    ("check-missing", "data check {missing}", "does-not-exist"),
    ("check-empty-folder", "data check {empty_dir}", "empty_dir"),
    ("check-text-folder", "data check {txt_dir}", "txt_dir"),
    ("check-bad-format", "data check {dataset} --format coco", "coco"),
    ("check-bad-split", "data check {dataset} --split holdout", "holdout"),
    ("check-limit-0", "data check {dataset} --limit 0", "--limit"),
    ("check-text-file", "data check {txt}", "notes.txt"),
    ("check-empty-png", "data check {empty_png}", "empty.png"),
    ("check-png-named-avi", "data check {fake_avi}", "is a PNG image, not a video"),
    ("check-noise-mp4", "data check {fake_mp4}", "noise.mp4"),
    ("check-text-dicom", "data check {fake_dcm} --format dicom", "fake.dcm"),
    ("check-garbage-h5", "data check {garbage_h5}", "garbage.h5"),
    ("check-wrong-format", "data check {dataset} --format duke", "dataset"),
    ("check-dicom-100000-frames", "data check {frames_dcm}", "declares 100000 frames"),
    ("check-dicom-65535-side", "data check {side_dcm}", "refused before decoding"),
    ("check-dicom-short-pixels", "data check {short_dcm}", "but the file holds"),
    ("check-h5-65535-side", "data check {huge_h5}", "refused before decoding"),
    ("check-annotations-leave-dataset", "data check {escape_set}", "2 problem(s) found"),
    ("predict-dicom-100000-frames", "predict {frames_dcm} -w {ckpt} -o {out}", "declares 100000 frames"),
    ("predict-dicom-65535-side", "predict {side_dcm} -w {ckpt} -o {out}", "refused before decoding"),
    ("convert-dicom-100000-frames", "data convert {frames_dcm} {out}", "declares 100000 frames"),
    ("convert-missing", "data convert {missing} {out}", "does-not-exist"),
    ("convert-empty-src", "data convert {empty_dir} {out}", "empty_dir"),
    ("convert-dst-user-folder", "data convert {dataset} {user_dir}", "user_results"),
    ("convert-dst-user-overwrite", "data convert {dataset} {user_dir} --overwrite", "user_results"),
    ("convert-dst-is-file", "data convert {dataset} {a_file}", "a_file.txt"),
    ("convert-dst-is-src", "data convert {dataset} {dataset}", "dataset"),
    ("convert-dst-readonly", "data convert {dataset} {readonly}/c", "cannot write here"),
    ("convert-bit-depth-12", "data convert {dataset} {out} --bit-depth 12", "--bit-depth"),
    ("convert-bad-format", "data convert {dataset} {out} --format coco", "coco"),
    ("convert-bad-split", "data convert {dataset} {out} --split holdout", "holdout"),
    ("convert-garbage-h5", "data convert {garbage_h5} {out}", "garbage.h5"),
    # ---------------------------------------------------------------- info, demo
    ("info-bad-model", "info --model resnet999-nope", "resnet999-nope"),
    ("info-size-33", "info --model demo --size 33", "--size"),
    ("info-size-0", "info --model demo --size 0", "--size"),
    ("info-size-without-model", "info --size 64", "--size: counts a model's FLOPs, so it needs --model"),
    ("info-chest-model", "info --model cathx-chest", "a chest X-ray line/tube classifier"),
    ("info-missing-checkpoint", "info --model {missing}.pt", "does-not-exist"),
    ("info-text-checkpoint", "info --model {text_pt}", "text.pt"),
    ("demo-missing-config", "demo --out {out} --config {missing}", "does-not-exist"),
    ("demo-bad-config", "demo --out {out} --config {cfg_unknown_key}", "epochz"),
    ("demo-max-minutes-neg", "demo --out {out} --max-minutes -1", "--max-minutes"),
    ("demo-sequence-frames-0", "demo --out {out} --sequence-frames 0", "--sequence-frames"),
    ("demo-out-is-file", "demo --out {a_file}", "a_file.txt"),
    # ---------------------------------------------------------------- cls
    ("cls-predict-huge-header", "cls predict {huge_png} -o {out}", "refused before decoding"),  # cathx-chest
    ("cls-synth-n-0", "cls synth {out} --n 0", "--n"),
    ("cls-synth-size-8", "cls synth {out} --n 2 --size 8", "--size"),
    ("cls-synth-workers-0", "cls synth {out} --n 2 --workers 0", "--workers"),
    ("cls-synth-out-is-file", "cls synth {a_file} --n 2", "a_file.txt"),
    ("cls-synth-out-user-folder", "cls synth {user_dir} --n 2", "user_results"),
    ("cls-train-missing-config", "cls train --config {missing} --out {out}", "does-not-exist"),
    ("cls-train-bad-backbone", "cls train --config {cfg_cls_bad_backbone} --out {out}", "resnet50"),
    ("cls-train-unknown-key", "cls train --config {cfg_cls_unknown} --out {out}", "modell"),
    ("cls-train-missing-data", "cls train --data {missing} --out {out}", "dataset not found"),
    ("cls-train-max-minutes-0", "cls train --out {out} --max-minutes 0", "--max-minutes"),
    ("cls-train-not-yaml", "cls train --config {cfg_not_yaml} --out {out}", "not valid YAML"),
    ("cls-val-missing-weights", "cls val --weights {missing} --data {dataset} --out {out}", "weights file not found"),
    ("cls-val-empty-weights", "cls val --weights {empty_pt} --data {dataset} --out {out}", "empty.pt"),
    ("cls-val-text-weights", "cls val --weights {text_pt} --data {dataset} --out {out}", "text.pt"),
    ("cls-val-out-is-file", "cls val --weights {ckpt} --data {dataset} --out {a_file}", "is a file"),
    ("cls-val-out-user-folder", "cls val --weights {ckpt} --data {dataset} --out {user_dir}", "cathx did not write"),
    ("cls-val-out-readonly", "cls val --weights {ckpt} --data {dataset} --out {readonly}/v", "cannot write here"),
    ("cls-predict-missing-source", "cls predict {missing} --weights {ckpt} --out {out}", "no such file or folder"),
    ("cls-predict-missing-weights", "cls predict {img} --weights {missing} --out {out}", "weights file not found"),
    ("cls-predict-text-weights", "cls predict {img} --weights {text_pt} --out {out}", "text.pt"),
    ("cls-predict-out-is-file", "cls predict {img} --weights {ckpt} --out {a_file}", "is a file"),
    ("cls-predict-out-user-folder", "cls predict {img} --weights {ckpt} --out {user_dir}", "cathx did not write"),
    ("cls-predict-out-readonly", "cls predict {img} --weights {ckpt} --out {readonly}/p", "cannot write here"),
    # ---------------------------------------------------------------- top level
    ("unknown-command", "detect {img}", "detect"),
    ("cls-unknown-command", "cls detect {img}", "detect"),
    ("data-unknown-command", "data fix {img}", "fix"),
]


def _argv(line: str, ws: dict, case: str) -> list[str]:
    values = {name: str(path) for name, path in ws.items()}
    values["out"] = str(ws["fresh"] / case)
    values["out_onnx"] = str(ws["fresh"] / case / "model.onnx")
    return [part.format(**values) for part in line.split()]


@pytest.mark.parametrize(("line", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2(run_cli, ws, line, expected, request):
    case = request.node.callspec.id
    argv = _argv(line, ws, case)
    if os.geteuid() == 0 and "{readonly}" in line:  # root writes into mode-0500 folders; not into /sys
        if os.access("/sys", os.W_OK) and _can_mkdir("/sys"):
            pytest.skip("no read-only folder for root here")
        argv = [a.replace(str(ws["readonly"]), "/sys/cathx-corpus") for a in argv]
    result = run_cli(*argv)
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    errors = [line for line in result.stderr.splitlines() if line.lower().startswith("error")]
    assert result.exit_code == 2, output
    assert len(errors) == 1, result.stderr
    assert expected in errors[0], errors[0]
    # a refused command leaves no output behind, besides an empty folder it may have created
    fresh = ws["fresh"] / case
    if fresh.exists():
        leftovers = [p for p in fresh.rglob("*") if p.is_file()]
        assert not leftovers, leftovers


def _can_mkdir(folder: str) -> bool:
    import tempfile

    try:
        os.rmdir(tempfile.mkdtemp(dir=folder))
    except OSError:
        return False
    return True


def test_corpus_size():
    assert len(CASES) >= 150 and len({c[0] for c in CASES}) == len(CASES)
