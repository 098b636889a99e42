"""Read limits: configuration from the environment, and declared-size bombs refused from headers
with little memory (measured in a fresh process, whose peak RSS also counts C allocations)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cathx.data.formats.limits import ReadLimits, check_frame_count, check_frame_size, read_limits
from cathx.errors import ConfigError, DataError

TESTS = Path(__file__).resolve().parents[2]


def test_defaults_and_environment(monkeypatch):
    monkeypatch.delenv("CATHX_MAX_IMAGE_SIDE", raising=False)
    monkeypatch.delenv("CATHX_MAX_FRAMES", raising=False)
    assert read_limits() == ReadLimits()
    monkeypatch.setenv("CATHX_MAX_FRAMES", "5")
    assert read_limits().max_frames == 5
    check_frame_count("run.dcm", 5)
    with pytest.raises(DataError, match=r"run\.dcm: header declares 6 frames; at most 5 .*CATHX_MAX_FRAMES"):
        check_frame_count("run.dcm", 6)
    with pytest.raises(DataError, match=r"x\.png: image header declares 0x4 px"):
        check_frame_size("x.png", 0, 4)


@pytest.mark.parametrize("name, value, message", [
    ("CATHX_MAX_FRAMES", "many", r"CATHX_MAX_FRAMES='many': expected a positive whole number"),
    ("CATHX_MAX_IMAGE_SIDE", "-3", r"CATHX_MAX_IMAGE_SIDE='-3': expected a positive whole number"),
    ("CATHX_MAX_SIDE", "100", r"unknown environment variable CATHX_MAX_SIDE; valid: CATHX_MAX_IMAGE_SIDE, "
                              r"CATHX_MAX_FRAMES"),
])
def test_bad_environment_values(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        read_limits()


BOMBS = textwrap.dedent('''
    import json, struct, sys, zlib
    from pathlib import Path
    import h5py
    from cathx.data.formats import open_dataset
    from cathx.errors import CathxError

    root = Path(sys.argv[1])
    sys.path.insert(0, sys.argv[2])  # tests/, for the shared builders
    from builders import dicom_declaring as dicom

    def png(path, width, height):
        head = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
        chunk = struct.pack(">I", 13) + b"IHDR" + head + struct.pack(">I", zlib.crc32(b"IHDR" + head))
        end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
        (path / "images").mkdir(parents=True)
        (path / "images" / "a.png").write_bytes(b"\\x89PNG\\r\\n\\x1a\\n" + chunk + end)
        return path

    def tiff(path, width, height):  # a TIFF header and first IFD: ImageWidth, ImageLength, no strips
        ifd = struct.pack("<H", 2) + struct.pack("<HHII", 256, 4, 1, width) + struct.pack("<HHII", 257, 4, 1, height)
        (path / "images").mkdir(parents=True)
        (path / "images" / "a.tif").write_bytes(b"II*\\x00" + struct.pack("<I", 8) + ifd + bytes(4))
        return path

    def hdf5(path, shape):
        with h5py.File(path, "w") as handle:
            handle.create_dataset("test", shape=shape, dtype="uint16", chunks=(1, 64, 64))
        return path

    cases = {
        "dicom-100000-frames": dicom(root / "frames.dcm", 4096, 4096, 100000),
        "dicom-65535-side": dicom(root / "side.dcm", 65535, 65535, 1),
        "dicom-short-data": dicom(root / "short.dcm", 4096, 4096, 50),
        "png-60000": png(root / "pngset", 60000, 60000),
        "tiff-30000": tiff(root / "tifset", 30000, 30000),
        "hdf5-65535": hdf5(root / "T1T2.hdf5", (4, 65535, 65535)),
    }
    def status_kb(field):  # VmRSS: resident now; VmHWM: peak of this program (ru_maxrss would carry
        # the parent's peak across fork + exec, so it cannot measure a child started by pytest)
        line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(field + ":"))
        return int(line.split()[1])

    before = status_kb("VmRSS")
    messages = {}
    for name, path in cases.items():
        try:
            reader = open_dataset(path)
            for _, sample in zip(range(2), reader.iter_frames()):
                pass
            messages[name] = "read without error"
        except CathxError as exc:
            messages[name] = str(exc)
    grown = (status_kb("VmHWM") - before) / 1024
    print(json.dumps({"messages": messages, "grown_mb": grown}))
''')


def test_declared_size_bombs_are_refused_with_little_memory(tmp_path):
    result = subprocess.run([sys.executable, "-c", BOMBS, str(tmp_path), str(TESTS)], capture_output=True, text=True,
                            timeout=120, env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    messages = report["messages"]
    assert "declares 100000 frames; at most 20000" in messages["dicom-100000-frames"]
    assert "declares 65535x65535 px; the largest supported side is 16384" in messages["dicom-65535-side"]
    assert "declares 50 frame(s) of 4096x4096 px" in messages["dicom-short-data"]
    assert "image header declares 60000x60000 px" in messages["png-60000"]
    assert "image header declares 30000x30000 px" in messages["tiff-30000"]
    assert "dataset 'test' declares 65535x65535 px" in messages["hdf5-65535"]
    assert all("\n" not in m for m in messages.values())
    # the process's peak resident memory, minus what it held before opening the five, stays below 200 MB
    assert report["grown_mb"] < 200, report
