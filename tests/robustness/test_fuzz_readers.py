"""Property-based fuzzing of the readers (hypothesis): malformed PNG (8/16-bit), DICOM, XRayCath
blob.csv, annotations.json and UCL HDF5 files.

Every generated file must give either valid samples (``Sample.validate`` passes, pixels in [0, 1])
or a CathxError, never another exception, and the Python-level peak memory of opening and reading
it (tracemalloc, which sees numpy's buffers) stays under 200 MB. Examples are bounded and
derandomized, so a run is repeatable and the module takes about half a minute.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import struct
import tempfile
import tracemalloc
import zlib
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from cathx.data.formats import open_dataset
from cathx.data.formats.imageio import add_png_significant_bits, read_image, read_mask
from cathx.errors import CathxError

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns about every odd value

PEAK_LIMIT = 200 * 1024 * 1024
FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def exercise(open_reader, frames: int = 3, root: Path | None = None) -> str:
    """Open and read up to ``frames`` samples (by index and streamed); 'ok' or 'refused'.

    Fails the test on any exception other than CathxError, on an invalid sample, on a sample read
    from outside ``root`` (when given) and on a Python peak above PEAK_LIMIT."""
    outcome = "ok"
    tracemalloc.start()
    try:
        try:
            reader = open_reader()
            for index in range(min(len(reader), frames)):
                check_sample(reader[index], root)
            for _, sample in zip(range(frames), reader.iter_frames()):
                check_sample(sample, root)
        except CathxError as exc:
            message = str(exc)
            assert message and "\n" not in message, f"not one line: {message!r}"
            outcome = "refused"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < PEAK_LIMIT, f"peak {peak / 2**20:.0f} MB"
    with contextlib.suppress(InvalidArgument):  # outside @given (test_unmutated_files_are_read)
        event(outcome)  # --hypothesis-show-statistics shows how many examples were read and refused
    return outcome


def check_sample(sample, root: Path | None = None) -> None:
    sample.validate()
    if root is not None:
        Path(sample.meta["source"]).resolve().relative_to(root.resolve())  # ValueError when outside
    assert sample.image.size > 0
    assert np.isfinite(sample.image).all()
    assert 0.0 <= float(sample.image.min()) and float(sample.image.max()) <= 1.0
    if sample.mask is not None:
        assert set(np.unique(sample.mask).tolist()) <= {0, 1}
    if sample.electrodes is not None:
        assert sample.electrodes.dtype == np.float32


# ---------------------------------------------------------------- byte-level mutations
@st.composite
def mutated(draw, data: bytes) -> bytes:
    """``data`` after up to four byte flips, insertions, deletions or a truncation."""
    data = bytearray(data)
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if not data:
            break
        position = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[position] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[position:position + draw(st.integers(1, 64))]
        else:
            del data[position:]
    return bytes(data)


def _png(array: np.ndarray, bits: int | None = None) -> bytes:
    ok, encoded = cv2.imencode(".png", array)
    assert ok
    data = encoded.tobytes()
    return add_png_significant_bits(data, bits) if bits else data


def _with_png_size(data: bytes, width: int, height: int) -> bytes:
    """The PNG with its IHDR width and height replaced (CRC fixed, so decoders believe it)."""
    body = data[12:16] + struct.pack(">II", width, height) + data[24:29]
    return data[:12] + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF) + data[33:]


def _with_tiff_size(data: bytes, width: int, height: int) -> bytes:
    """The little-endian TIFF with ImageWidth and ImageLength of its first IFD set to LONG values."""
    data = bytearray(data)
    offset = struct.unpack("<I", data[4:8])[0]
    for index in range(struct.unpack("<H", data[offset:offset + 2])[0]):
        entry = offset + 2 + 12 * index
        tag = struct.unpack("<H", data[entry:entry + 2])[0]
        if tag in (256, 257):
            data[entry + 2:entry + 12] = struct.pack("<HII", 4, 1, width if tag == 256 else height)
    return bytes(data)


_RAMP16 = (np.arange(24 * 20, dtype=np.uint32).reshape(20, 24) * 8).astype(np.uint16)
_PNG_BASES = [_png(_RAMP16, 12), _png(_RAMP16), _png((_RAMP16 >> 8).astype(np.uint8)),
              _png(np.dstack([(_RAMP16 >> 8).astype(np.uint8)] * 3))]
_TIFF_BASES = [cv2.imencode(".tiff", image)[1].tobytes() for image in (_RAMP16, (_RAMP16 >> 8).astype(np.uint8))]
_SIZES = st.integers(0, 2**31 - 1) | st.sampled_from([0, 1, 16385, 60000, 2**31 - 1])


@st.composite
def png_files(draw) -> bytes:
    data = draw(st.sampled_from(_PNG_BASES + _TIFF_BASES))
    if draw(st.integers(0, 2)) == 0:
        data = (_with_png_size(data, draw(_SIZES), draw(_SIZES)) if data.startswith(b"\x89PNG")
                else _with_tiff_size(data, draw(_SIZES), draw(_SIZES)))
    return draw(mutated(data)) if draw(st.booleans()) else data


@settings(FUZZ, max_examples=150)
@given(png_files())
def test_png_reader(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("frame.png" if data.startswith(b"\x89PNG") else "frame.tif")
        path.write_bytes(data)
        exercise(lambda: _OneImage(path))


class _OneImage:
    """read_image and read_mask of one file, seen as a reader of one sample."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int):
        from cathx.structures import Sample

        image = read_image(self.path)
        mask = read_mask(self.path)
        assert mask.shape == image.shape and mask.dtype == np.uint8
        return Sample(image)

    def iter_frames(self):
        yield self[0]


# ---------------------------------------------------------------- DICOM
_ANY_INT = st.integers(-(2**31), 2**31) | st.sampled_from([0, 1, 3, 7, 8, 12, 16, 32, 64, 65535, 100000])
_DICOM_FIELDS = {
    "Rows": _ANY_INT, "Columns": _ANY_INT, "NumberOfFrames": _ANY_INT | st.sampled_from(["x", "", "1.5"]),
    "BitsAllocated": _ANY_INT, "BitsStored": _ANY_INT, "HighBit": _ANY_INT, "PixelRepresentation": _ANY_INT,
    "SamplesPerPixel": _ANY_INT, "PlanarConfiguration": _ANY_INT,
    "PhotometricInterpretation": st.sampled_from(["MONOCHROME1", "MONOCHROME2", "RGB", "PALETTE COLOR",
                                                  "YBR_FULL", "", "BOGUS"]),
    "RescaleSlope": st.sampled_from(["0", "-1", "1e308", "nan", "2.5", "x"]),
    "RescaleIntercept": st.sampled_from(["0", "-1024", "1e308", "inf", "x"]),
    "WindowCenter": st.sampled_from(["0", "2048", "-1e9", "nan", "x"]),
    "WindowWidth": st.sampled_from(["0", "1", "-5", "4096", "1e308", "x"]),
    "FrameTime": st.sampled_from(["0", "-1", "66.7", "nan", "x", "1e-300"]),
    "FrameTimeVector": st.sampled_from([["0", "33"], ["x"], ["0"], ["-1", "-1"]]),
    "CineRate": st.sampled_from(["0", "15", "-3", "x"]),
}


def _dicom_bytes(frames: int, overrides: dict) -> bytes | None:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.12.1"
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.8.498.1"  # fixed: same bytes every run
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "XA"
    ds.Rows, ds.Columns = 12, 10
    ds.NumberOfFrames = frames
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = (np.arange(frames * 120, dtype=np.uint16) % 4096).tobytes()
    buffer = io.BytesIO()
    try:
        for keyword, value in overrides.items():
            setattr(ds, keyword, value)
        ds.save_as(buffer, enforce_file_format=True)
    except Exception:  # pydicom refuses to write some values (e.g. a negative US): not a reader case
        return None
    return buffer.getvalue()


@st.composite
def dicom_files(draw) -> bytes:
    keys = draw(st.lists(st.sampled_from(sorted(_DICOM_FIELDS)), max_size=4, unique=True))
    overrides = {key: draw(_DICOM_FIELDS[key]) for key in keys}
    data = _dicom_bytes(draw(st.integers(1, 3)), overrides)
    if data is None:
        data = _dicom_bytes(2, {})
    if draw(st.booleans()):
        data = draw(mutated(data))
    return data


@settings(FUZZ, max_examples=120)
@given(dicom_files())
def test_dicom_reader(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.dcm"
        path.write_bytes(data)
        exercise(lambda: open_dataset(path, format="dicom"))


# ---------------------------------------------------------------- XRayCath blob.csv
_CELLS = st.sampled_from(["0.5", "0", "1", "-0.1", "1.5", "nan", "inf", "-inf", "1e308", "", " ", "x",
                          "0.25", "a", "b", "a.png", "../../etc/passwd", '"', "0x10"]) | st.text(max_size=8)


def _xraycath_folder(root: Path, csv_bytes: bytes) -> None:
    for name in ("images", "masks", "csv"):
        (root / name).mkdir()
    for key in ("a", "b"):
        (root / "images" / f"{key}.png").write_bytes(_PNG_BASES[2])
        (root / "masks" / f"{key}.png").write_bytes(_png(((_RAMP16 >> 8) > 100).astype(np.uint8) * 255))
    (root / "csv" / "blob.csv").write_bytes(csv_bytes)


@st.composite
def blob_csvs(draw) -> bytes:
    header = draw(st.sampled_from(["imageId,Center X,Center Y,Strength", "imageId, Center X ,Center Y,Strength",
                                   "imageId,Center X,Strength", "", "imageId;Center X;Center Y;Strength"]))
    rows = draw(st.lists(st.lists(_CELLS, min_size=0, max_size=6), max_size=8))
    text = "\n".join([header] + [",".join(row) for row in rows])
    data = text.encode("utf-8", "surrogatepass")
    return draw(mutated(data)) if draw(st.booleans()) else data


@settings(FUZZ, max_examples=60)
@given(blob_csvs())
def test_xraycath_csv_reader(data):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "set"
        root.mkdir()
        _xraycath_folder(root, data)
        exercise(lambda: open_dataset(root, format="xraycath"), frames=2)


# ---------------------------------------------------------------- annotations.json
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=6),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)


def mostly(valid, other):
    """``valid`` three times in four, else ``other``: most examples get past the first check."""
    return st.integers(0, 3).flatmap(lambda k: other if k == 0 else valid)


_FILE_NAMES = mostly(st.sampled_from(["images/a.png", "images/b.png"]),
                     st.sampled_from(["images/missing.png", "../../etc/passwd", "/etc/passwd", "images", "",
                                      "masks/a.png", "images/../images/a.png"]) | _JSON)
_NUMBERS = mostly(st.lists(st.integers(-5, 30) | st.floats(-1e3, 1e3), max_size=9),
                  st.lists(st.integers(-5, 30) | st.floats() | _JSON, max_size=9))
_MAYBE = mostly(st.none(), _JSON)


@st.composite
def annotation_files(draw) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return json.dumps(draw(_JSON)).encode()
    ids = mostly(st.integers(0, 3), _JSON)
    images = [
        {"id": draw(ids), "file_name": draw(_FILE_NAMES),
         "mask_file": draw(mostly(st.sampled_from([None, "masks/a.png", "masks/b.png"]), _FILE_NAMES)),
         "split": draw(mostly(st.sampled_from(["train", "test", None]), _JSON)), "has_electrodes": draw(_MAYBE),
         "sequence_id": draw(_MAYBE), "frame_index": draw(_MAYBE), "fps": draw(_MAYBE)}
        for _ in range(draw(st.integers(0, 3)))
    ]
    rle = {"size": [20, 24], "counts": draw(st.sampled_from(["0", "PPP0", "", "abc", "480"]) | _JSON)}
    annotations = [
        {"id": draw(ids), "image_id": draw(ids), "category_id": draw(mostly(st.integers(-1, 3), _JSON)),
         "catheter_id": draw(mostly(st.integers(0, 3), _JSON)), "keypoints": draw(_NUMBERS),
         "electrode_sizes": draw(_NUMBERS | st.lists(_NUMBERS, max_size=3)),
         "centreline": draw(_NUMBERS | st.lists(_NUMBERS, max_size=3)),
         "segmentation": draw(mostly(st.just(rle) | st.lists(_NUMBERS, max_size=2), _JSON))}
        for _ in range(draw(st.integers(0, 3)))
    ]
    document = {"images": images if draw(st.integers(0, 9)) else draw(_JSON),
                "annotations": annotations if draw(st.integers(0, 9)) else draw(_JSON),
                "categories": draw(mostly(st.just([{"id": 1, "name": "ablation"}]), _JSON))}
    data = json.dumps(document).encode()
    return draw(mutated(data)) if draw(st.integers(0, 4)) == 0 else data


@settings(FUZZ, max_examples=100)
@given(annotation_files())
def test_annotations_json_reader(data):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "set"
        root.mkdir()
        _xraycath_folder(root, b"imageId,Center X,Center Y,Strength\n")
        (root / "annotations.json").write_bytes(data)
        exercise(lambda: open_dataset(root, format="xraycath"), frames=4, root=root)


# ---------------------------------------------------------------- UCL HDF5
_DTYPES = st.sampled_from(["uint8", "uint16", "int16", "int64", "float32", "float64", "bool", "complex64", "S4",
                           "uint8", "uint16", "float32"])
_DIMS = st.integers(1, 6) | st.sampled_from([0, 20000, 100000, 65535])
_SHAPES = (st.tuples(st.integers(1, 3), st.integers(1, 9), st.integers(1, 9)).map(list)
           | st.tuples(st.integers(1, 3), st.sampled_from([1, 3]), st.integers(1, 9), st.integers(1, 9)).map(list)
           | st.tuples(st.integers(1, 3), st.integers(1, 9), st.integers(1, 9), st.sampled_from([1, 3])).map(list)
           | st.lists(_DIMS, min_size=0, max_size=5))


def _hdf5_dataset(handle, key: str, shape: list[int], dtype: str) -> None:
    shape = tuple(shape)
    if math.prod(shape) <= 4096 and max(shape, default=1) <= 4096:
        handle.create_dataset(key, data=np.ones(shape, dtype=dtype))
        return
    try:  # declared, not stored: an HDF5 file may declare any shape in a few bytes
        handle.create_dataset(key, shape=shape, dtype=dtype, chunks=tuple(1 for _ in shape) if all(shape) else None)
    except (ValueError, TypeError, OSError):  # a shape h5py cannot even write: store a plain volume
        handle.create_dataset(key, data=np.ones((2, 4, 4), dtype=dtype))


@st.composite
def hdf5_volumes(draw) -> tuple[bytes, bytes | None]:
    files = []
    for key_choices in (["test", "train_img", "test", "other"], ["label", "label", "other"]):
        buffer = io.BytesIO()
        with h5py.File(buffer, "w") as handle:
            _hdf5_dataset(handle, draw(st.sampled_from(key_choices)), draw(_SHAPES), draw(_DTYPES))
        files.append(buffer.getvalue())
    image, label = files
    if draw(st.integers(0, 3)) == 0:
        image = draw(mutated(image))
    return image, (label if draw(st.booleans()) else None)


@settings(FUZZ, max_examples=100)
@given(hdf5_volumes())
def test_ucl_hdf5_reader(files):
    image, label = files
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "T1T2.hdf5"
        path.write_bytes(image)
        if label is not None:
            (Path(folder) / "T1T2_label.hdf5").write_bytes(label)
        exercise(lambda: open_dataset(path, format="ucl"))


def test_unmutated_files_are_read(tmp_path):
    """The fuzzers start from valid files: each is read without a refusal, so a fuzz run that
    only ever saw refusals would not pass for a reader that rejects everything."""
    for number, data in enumerate(_PNG_BASES + _TIFF_BASES):
        path = tmp_path / f"base{number}.{'png' if data.startswith(bytes([0x89])) else 'tif'}"
        path.write_bytes(data)
        assert exercise(lambda: _OneImage(path)) == "ok"
    (tmp_path / "run.dcm").write_bytes(_dicom_bytes(3, {}))
    assert exercise(lambda: open_dataset(tmp_path / "run.dcm", format="dicom")) == "ok"
    root = tmp_path / "set"
    root.mkdir()
    _xraycath_folder(root, b"imageId,Center X,Center Y,Strength\na.png,0.5,0.25,0.6\n")
    assert exercise(lambda: open_dataset(root, format="xraycath")) == "ok"
    document = {"images": [{"id": 1, "file_name": "images/a.png", "mask_file": "masks/a.png"}],
                "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "keypoints": [3, 4, 2],
                                 "electrode_sizes": [[2, 2]], "centreline": [[1, 1], [5, 5]]}],
                "categories": [{"id": 1, "name": "ablation"}]}
    (root / "annotations.json").write_text(json.dumps(document))
    assert exercise(lambda: open_dataset(root, format="xraycath")) == "ok"
    with h5py.File(tmp_path / "T1T2.hdf5", "w") as handle:
        _hdf5_dataset(handle, "test", [2, 8, 8], "uint16")
    with h5py.File(tmp_path / "T1T2_label.hdf5", "w") as handle:
        _hdf5_dataset(handle, "label", [2, 8, 8], "uint8")
    assert exercise(lambda: open_dataset(tmp_path / "T1T2.hdf5", format="ucl")) == "ok"
