"""Memory of streaming readers: peak RSS while iterating long inputs vs a 300-frame baseline.

Generates, in a temporary folder, a UCL-style HDF5 pair of 3,000 frames (256x256 uint8), a
10,000-frame multi-frame DICOM (128x128, 12-bit, native) and a 10,000-frame MJPG video (128x128),
plus 300-frame versions of each. Every iteration runs in a fresh process, so the peak RSS
(VmHWM) belongs to that run alone. If memory is bounded, the long inputs peak at about the
same RSS as the short ones, while the whole data would be far larger.

Writes benchmarks/results/readers_memory.json and .md. Run under the CPU lock:
    flock /tmp/cathx-cpu.lock .venv/bin/python benchmarks/readers_memory.py
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def _status_mb(field: str) -> float:
    """VmRSS (current) or VmHWM (peak) of this process in MiB, from /proc (Linux)."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def write_hdf5(folder: Path, frames: int, size: int = 256) -> Path:
    import h5py

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    path = folder / "T1T2.hdf5"
    with h5py.File(path, "w") as images, h5py.File(folder / "T1T2_label.hdf5", "w") as labels:
        data = images.create_dataset("train_img", (frames, size, size), np.uint8, chunks=(1, size, size))
        label = labels.create_dataset("label", (frames, size, size), np.uint8, chunks=(1, size, size))
        block = 100
        for start in range(0, frames, block):
            count = min(block, frames - start)
            data[start : start + count] = rng.integers(0, 255, (count, size, size), np.uint8)
            label[start : start + count] = rng.random((count, size, size)) > 0.97
    return path


def write_dicom(path: Path, frames: int, size: int = 128) -> Path:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.12.1"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "XA"
    ds.Rows = ds.Columns = size
    ds.NumberOfFrames = frames
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.FrameTime = 66.67
    ds.WindowCenter, ds.WindowWidth = 2048, 4096
    rng = np.random.default_rng(0)
    ds.PixelData = rng.integers(0, 4096, (frames, size, size), np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def write_video(path: Path, frames: int, size: int = 128) -> Path:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (size, size))
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (16, size, size, 3), np.uint8)
    for index in range(frames):
        writer.write(noise[index % 16])
    writer.release()
    return path


def measure(path: str, mode: str) -> dict:
    """Child process: open ``path`` and read every frame; report RSS figures."""
    import cv2  # noqa: F401  - imported before the first figure so every run starts alike
    import h5py  # noqa: F401
    import pydicom  # noqa: F401

    from cathx.data.formats import open_dataset

    rss_start = _rss_mb()
    reader = open_dataset(path)
    rss_open = _rss_mb()
    started = time.perf_counter()
    checksum = 0.0
    count = 0
    frames = reader.iter_frames() if mode == "stream" else (reader[i] for i in range(len(reader)))
    for sample in frames:
        checksum += float(sample.image[0, 0])
        count += 1
    elapsed = time.perf_counter() - started
    return {
        "frames": count,
        "rss_after_import_mb": round(rss_start, 1),
        "rss_after_open_mb": round(rss_open, 1),
        # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so it would include the parent's peak.
        "peak_rss_mb": round(_status_mb("VmHWM"), 1),
        "frames_per_s": round(count / elapsed, 1),
        "seconds": round(elapsed, 2),
    }


def _run_child(path: Path, mode: str) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", str(path), "--mode", mode],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child")
    parser.add_argument("--mode", default="stream")
    parser.add_argument("--hdf5-frames", type=int, default=3000)
    parser.add_argument("--long-frames", type=int, default=10000)
    parser.add_argument("--baseline-frames", type=int, default=300)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.mode)))
        return
    cases = []
    with tempfile.TemporaryDirectory(prefix="cathx-readers-memory-") as tmp:
        root = Path(tmp)
        plan = [
            ("ucl-hdf5", "index", 256, args.hdf5_frames, lambda d, n: write_hdf5(d, n)),
            ("dicom-multiframe", "stream", 128, args.long_frames, lambda d, n: write_dicom(d / "run.dcm", n)),
            ("dicom-multiframe", "index", 128, args.long_frames, lambda d, n: write_dicom(d / "run.dcm", n)),
            ("video-mjpg", "stream", 128, args.long_frames, lambda d, n: write_video(d / "run.avi", n)),
        ]
        for name, mode, size, frames, writer in plan:
            result = {"format": name, "mode": mode, "frame_size": size}
            for label, count in (("baseline", args.baseline_frames), ("long", frames)):
                folder = root / f"{name}-{count}"
                folder.mkdir(exist_ok=True)
                existing = [p for p in folder.iterdir() if not p.stem.endswith("_label")]
                path = existing[0] if existing else writer(folder, count)
                bytes_on_disk = sum(p.stat().st_size for p in folder.iterdir())
                measured = _run_child(path, mode)
                measured["data_mb"] = round(bytes_on_disk / 2**20, 1)
                result[label] = measured
                print(name, mode, label, measured, flush=True)
            result["peak_rss_growth_mb"] = round(
                result["long"]["peak_rss_mb"] - result["baseline"]["peak_rss_mb"], 1
            )
            cases.append(result)
    report = {
        "benchmark": "readers_memory",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "note": "peak RSS (VmHWM) of a fresh process that opens the data and reads every frame; "
        "growth = long minus baseline peak",
        "cases": cases,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "readers_memory.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# Reader memory: long inputs vs a short baseline",
        "",
        "Generated by `benchmarks/readers_memory.py` (fresh process per run; peak RSS = VmHWM).",
        "",
        "| format | access | frame px | frames (long / base) | data MB (long) "
        "| peak RSS MB long | peak RSS MB base | growth MB | frames/s (long) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case in cases:
        long, base = case["long"], case["baseline"]
        lines.append(
            f"| {case['format']} | {case['mode']} | {case['frame_size']} "
            f"| {long['frames']} / {base['frames']} | {long['data_mb']} "
            f"| {long['peak_rss_mb']} | {base['peak_rss_mb']} | {case['peak_rss_growth_mb']} "
            f"| {long['frames_per_s']} |"
        )
    lines += [
        "",
        "access: `stream` = `reader.iter_frames()`, `index` = `reader[i]` for every i in order.",
        "",
    ]
    (RESULTS / "readers_memory.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
