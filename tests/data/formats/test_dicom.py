"""DICOM reader: fixtures written with pydicom (multi-frame, MONOCHROME1, VOI window, frame timing,
compressed transfer syntaxes) plus pydicom's own shipped sample files for decoders we cannot encode."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    RLELossless,
    generate_uid,
)

from cathx.data.formats import detect_format, open_dataset
from cathx.data.formats.dicom import frame_rate
from cathx.errors import DataError
from builders import write_dicom

PYDICOM_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


def _ramp(frames=3, size=32, high=4095):
    ramp = np.tile(np.linspace(0, high, size).round().astype(np.uint16), (size, 1))
    return np.stack([ramp] * frames)


def test_multiframe_with_frame_time_and_default_range(tmp_path):
    path = tmp_path / "run.dcm"
    frames = _ramp(5)
    frames[2, 0, 0] = 2048
    write_dicom(path, frames, FrameTime=66.6667, ImagerPixelSpacing=[0.3, 0.3])
    assert detect_format(path) == "dicom"
    reader = open_dataset(path)
    assert len(reader) == 5 and reader.problems == []
    sample = reader[2]
    sample.validate()
    assert sample.image[0, 0] == pytest.approx(2048 / 4095, abs=1e-6)
    assert sample.image[5, -1] == pytest.approx(1.0) and sample.image[5, 0] == 0.0
    assert sample.meta["fps"] == pytest.approx(15.0, rel=1e-4)
    assert sample.meta["frame_index"] == 2 and sample.meta["pixel_spacing"] == [0.3, 0.3]
    streamed = list(reader.iter_frames())
    assert len(streamed) == 5
    np.testing.assert_array_equal(streamed[2].image, sample.image)


def test_monochrome1_is_inverted(tmp_path):
    path = tmp_path / "m1.dcm"
    write_dicom(path, _ramp(1, high=255), bits=8, photometric="MONOCHROME1")
    image = open_dataset(path)[0].image
    assert image[0, 0] == 1.0 and image[0, -1] == 0.0


def test_modality_then_voi_window(tmp_path):
    path = tmp_path / "win.dcm"
    frames = np.array([[[0, 1000, 1500, 2000, 3000]]], np.uint16)
    # rescale: value = 2 * stored - 1000; window centre 2000 width 2001 -> [1000, 3000] maps to [y_min, y_max]
    write_dicom(path, frames, RescaleSlope=2, RescaleIntercept=-1000, WindowCenter=2000, WindowWidth=2001)
    image = open_dataset(path)[0].image[0]
    # stored 0 -> -1000 (below window) -> 0; 1000 -> 1000 (window bottom) -> 0;
    # 1500 -> 2000 (centre) -> ~0.5; 2000 -> 3000 (top) -> 1; 3000 -> 5000 -> 1
    np.testing.assert_allclose(image, [0.0, 0.0, 0.5, 1.0, 1.0], atol=2e-3)


@pytest.mark.parametrize(
    ("elements", "fps"),
    [
        ({"FrameTime": 100}, 10.0),
        ({"FrameTimeVector": [0, 133.3333, 133.3333]}, 7.5),
        ({"CineRate": 30}, 30.0),
        ({}, None),
        # a tag that says nothing usable is passed over, not an error that refuses the file
        ({"FrameTime": "abc", "CineRate": 25}, 25.0),
        ({"FrameTime": 0, "FrameTimeVector": [0, 0]}, None),
        ({"FrameTime": -40, "RecommendedDisplayFrameRate": 12}, 12.0),
        ({"FrameTime": 0.0001, "CineRate": 30}, 30.0),  # 10 million fps: a mistyped tag
        ({"CineRate": "nan"}, None),
        ({"FrameTimeVector": ["x", 0, 50, 50]}, 20.0),
    ],
)
def test_frame_rate_sources(elements, fps):
    try:
        header = Dataset()
        for keyword, value in elements.items():
            setattr(header, keyword, value)
    except ValueError:  # pydicom refuses to build the invalid ones; a read file holds them as text
        header = dict(elements)
    result = frame_rate(header)
    assert result == (pytest.approx(fps, rel=1e-4) if fps else None)


def test_folder_of_files_and_one_without_pixels(tmp_path):
    write_dicom(tmp_path / "a.dcm", _ramp(2))
    write_dicom(tmp_path / "b.dcm", _ramp(3), CineRate=15)
    ds = write_dicom(tmp_path / "c.dcm", _ramp(1))
    del ds.PixelData
    ds.save_as(tmp_path / "c.dcm", enforce_file_format=True)
    reader = open_dataset(tmp_path)
    assert len(reader) == 5
    assert reader.problems == [
        f"{tmp_path / 'c.dcm'}: DICOM file has no pixel data (no PixelData element) (skipped)"
    ]
    assert reader[4].meta["fps"] == 15.0 and reader[4].meta["frame_index"] == 2
    with pytest.raises(DataError, match=r"c\.dcm: DICOM file has no pixel data"):
        open_dataset(tmp_path / "c.dcm")


def test_zero_byte_and_not_dicom(tmp_path):
    (tmp_path / "z.dcm").write_bytes(b"")
    with pytest.raises(DataError, match=r"z\.dcm: file is empty \(0 bytes\)"):
        open_dataset(tmp_path / "z.dcm")
    (tmp_path / "junk.dcm").write_bytes(b"hello" * 100)
    with pytest.raises(DataError, match=r"junk\.dcm: not a DICOM file"):
        open_dataset(tmp_path / "junk.dcm")


def test_truncated_pixel_data_names_the_file(tmp_path):
    path = tmp_path / "t.dcm"
    write_dicom(path, _ramp(4))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 3000])
    with pytest.raises(DataError, match=r"t\.dcm: (cannot decode frame|cannot read DICOM header|DICOM header declares 4 frame)"):
        list(open_dataset(path).iter_frames())


def _encoded(tmp_path, syntax):
    frames = np.stack([np.tile(np.linspace(0, 255, 32).astype(np.uint8), (32, 1))] * 3)
    frames[1] = 255 - frames[1]
    path = tmp_path / f"{syntax.name}.dcm"
    ds = write_dicom(path, frames, bits=8)
    if syntax == RLELossless:
        ds.compress(RLELossless)
    elif syntax == DeflatedExplicitVRLittleEndian:
        ds.file_meta.TransferSyntaxUID = syntax
    else:
        suffix = ".jpg" if syntax == JPEGBaseline8Bit else ".jp2"
        ds.PixelData = encapsulate([cv2.imencode(suffix, frame)[1].tobytes() for frame in frames])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = syntax
    ds.save_as(path, enforce_file_format=True)
    return path, frames


@pytest.mark.parametrize("syntax", [RLELossless, JPEGBaseline8Bit, JPEG2000, DeflatedExplicitVRLittleEndian])
def test_compressed_written_here_decode_per_frame(tmp_path, syntax):
    path, frames = _encoded(tmp_path, syntax)
    reader = open_dataset(path)
    assert len(reader) == 3
    expected = frames[1] / 255.0
    np.testing.assert_allclose(reader[1].image, expected, atol=2.5 / 255)
    np.testing.assert_allclose(list(reader.iter_frames())[1].image, expected, atol=2.5 / 255)


# Transfer syntaxes we cannot encode here, checked on the sample files that ship inside pydicom.
@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("MR_small_jpeg_ls_lossless.dcm", "MR_small.dcm"),  # JPEG-LS lossless (pylibjpeg-libjpeg)
        ("MR_small_jp2klossless.dcm", "MR_small.dcm"),  # JPEG 2000 lossless (pillow)
        ("MR_small_RLE.dcm", "MR_small.dcm"),  # RLE lossless (pydicom)
        ("MR_small_bigendian.dcm", "MR_small.dcm"),  # explicit VR big endian
        ("JPEGLSNearLossless_08.dcm", None),  # JPEG-LS near-lossless
        ("JPGExtended.dcm", None),  # JPEG extended 12-bit (process 2 and 4)
        ("SC_rgb_jpeg_gdcm.dcm", None),  # JPEG lossless process 14 SV1, RGB -> grey
        ("examples_ybr_color.dcm", None),  # JPEG baseline, YBR_FULL_422 multi-frame -> grey
        ("image_dfl.dcm", None),  # deflated explicit VR little endian
    ],
)
def test_shipped_compressed_samples_decode(name, reference):
    reader = open_dataset(PYDICOM_FILES / name)
    sample = reader[len(reader) - 1]
    sample.validate()
    assert 0.0 <= sample.image.min() <= sample.image.max() <= 1.0 and sample.image.std() > 0
    if reference:
        np.testing.assert_allclose(sample.image, open_dataset(PYDICOM_FILES / reference)[0].image, atol=1e-6)


def test_enhanced_shared_functional_groups_window(tmp_path):
    path = tmp_path / "enh.dcm"
    frames = np.array([[[1000, 1500, 2000]]] * 2, np.uint16)
    voi = Dataset()
    voi.WindowCenter, voi.WindowWidth = 1500, 1001
    groups = Dataset()
    groups.FrameVOILUTSequence = [voi]
    write_dicom(path, frames, SharedFunctionalGroupsSequence=[groups])
    np.testing.assert_allclose(open_dataset(path)[1].image[0], [0.0, 0.5, 1.0], atol=2e-3)


def test_voi_lut_sequence(tmp_path):
    path = tmp_path / "lut.dcm"
    lut = Dataset()
    lut.LUTDescriptor = [4, 0, 8]  # 4 entries, first stored value 0, 8-bit output
    lut.add_new("LUTData", "US", [0, 100, 200, 255])
    write_dicom(path, np.array([[[0, 1, 2, 3]]], np.uint16), bits=8, VOILUTSequence=[lut])
    np.testing.assert_allclose(open_dataset(path)[0].image[0], [0, 100 / 255, 200 / 255, 1.0], atol=1e-6)


def test_series_of_single_frame_files_in_instance_order(tmp_path):
    series = generate_uid()
    for number, name in ((2, "a.dcm"), (1, "b.dcm"), (3, "c.dcm")):
        write_dicom(tmp_path / name, _ramp(1) * 0 + number, SeriesInstanceUID=series, InstanceNumber=number)
    (tmp_path / "DICOMDIR").write_bytes(b"\x00" * 128 + b"DICM")  # index file: ignored, not a problem
    reader = open_dataset(tmp_path)
    assert reader.problems == [] and len(reader) == 3
    frames = list(reader.iter_frames())
    assert [s.meta["frame_index"] for s in frames] == [0, 1, 2]
    assert [s.meta["source"][-5:] for s in frames] == ["b.dcm", "a.dcm", "c.dcm"]
    assert {s.meta["sequence_id"] for s in frames} == {series}


def test_twelve_bit_data_through_an_eight_bit_voi_lut_scales_by_the_lut_range(tmp_path):
    path = tmp_path / "lut12.dcm"
    lut = Dataset()
    lut.LUTDescriptor = [4, 1000, 8]  # 4 entries for stored 1000..1003, 8-bit output
    lut.add_new("LUTData", "US", [0, 51, 204, 255])
    # 12-bit stored values; below the first entry clamps to LUTData[0], above the last to LUTData[-1].
    stored = np.array([[[0, 1000, 1001, 1002, 1003, 4095]]], np.uint16)
    write_dicom(path, stored, bits=12, VOILUTSequence=[lut])
    # Scaled by the LUT's 8-bit output range (255), not the 12-bit stored range (4095).
    np.testing.assert_allclose(open_dataset(path)[0].image[0], [0, 0, 0.2, 0.8, 1.0, 1.0], atol=1e-6)


def test_monochrome1_with_a_window_is_windowed_then_inverted(tmp_path):
    path = tmp_path / "m1win.dcm"
    # window centre 1500 width 1001 -> [1000, 2000] maps to [0, 1]; MONOCHROME1 then flips it.
    write_dicom(path, np.array([[[500, 1000, 1250, 2000, 3000]]], np.uint16), photometric="MONOCHROME1",
                WindowCenter=1500, WindowWidth=1001)
    np.testing.assert_allclose(open_dataset(path)[0].image[0], [1.0, 1.0, 0.75, 0.0, 0.0], atol=2e-3)


def test_colour_frames_without_bits_stored_and_with_too_few_samples():
    from cathx.data.formats.dicom import frame_to_unit

    header = Dataset()
    header.PhotometricInterpretation = "RGB"
    image = frame_to_unit(np.full((4, 5, 3), 255, np.uint8), header, "c.dcm")
    assert image.shape == (4, 5) and np.allclose(image, 1.0)
    with pytest.raises(DataError, match=r"c\.dcm: RGB frame of shape \(4, 5, 2\); expected 3 colour samples"):
        frame_to_unit(np.zeros((4, 5, 2), np.uint8), header, "c.dcm")


def test_is_dicom_file_by_suffix_or_preamble(tmp_path):
    from cathx.data.formats.dicom import is_dicom_file

    write_dicom(tmp_path / "scan", _ramp(1))  # no suffix: the "DICM" marker at byte 128 decides
    (tmp_path / "other").write_bytes(b"\0" * 128 + b"DICX" + b"\0" * 16)
    (tmp_path / "short").write_bytes(b"\0" * 128 + b"DIC")  # the marker cut short
    (tmp_path / "empty.DCM").write_bytes(b"")  # the suffix alone counts, in any case
    assert is_dicom_file(tmp_path / "scan")
    assert not is_dicom_file(tmp_path / "other") and not is_dicom_file(tmp_path / "short")
    assert is_dicom_file(tmp_path / "empty.DCM")
    assert not is_dicom_file(tmp_path / "missing")  # unreadable: False, no exception


def _header(**elements):
    header = Dataset()
    header.BitsAllocated = 16
    for keyword, value in elements.items():
        setattr(header, keyword, value)
    return header


@pytest.mark.parametrize(
    ("elements", "expected"),
    [
        (dict(BitsStored=12), (0.0, 4095.0)),
        (dict(), (0.0, 65535.0)),  # no BitsStored: BitsAllocated
        (dict(BitsStored=12, PixelRepresentation=1), (-2048.0, 2047.0)),
        # Rescale maps both ends: 0 * 2 - 1024 and 4095 * 2 - 1024.
        (dict(BitsStored=12, RescaleSlope=2, RescaleIntercept=-1024), (-1024.0, 7166.0)),
        # A negative slope swaps them: 0 * -1 + 100 = 100 is the top, 4095 * -1 + 100 the bottom.
        (dict(BitsStored=12, RescaleSlope=-1, RescaleIntercept=100), (-3995.0, 100.0)),
        (dict(BitsStored=12, RescaleSlope=2), (0.0, 4095.0)),  # a slope without an intercept: ignored
    ],
)
def test_modality_range_hand_computed(elements, expected):
    from cathx.data.formats.dicom import _modality_range

    assert _modality_range(_header(**elements)) == expected


def test_modality_range_of_a_modality_lut_is_its_output_bits():
    from cathx.data.formats.dicom import _modality_range

    lut = Dataset()
    lut.LUTDescriptor = [4, 0, 10]
    assert _modality_range(_header(BitsStored=12, ModalityLUTSequence=[lut])) == (0.0, 1023.0)


def test_frames_across_the_files_of_a_folder(tmp_path):
    # Two multi-frame files (3 and 2 frames), each frame a different constant: index 3 is the
    # second file's first frame.
    write_dicom(tmp_path / "a.dcm", np.stack([np.full((8, 8), 100 * (k + 1), np.uint16) for k in range(3)]))
    write_dicom(tmp_path / "b.dcm", np.stack([np.full((8, 8), 1000 + 100 * k, np.uint16) for k in range(2)]))
    reader = open_dataset(tmp_path)
    values = [round(float(reader[i].image.mean()) * 4095) for i in range(len(reader))]
    assert values == [100, 200, 300, 1000, 1100]
    assert [round(float(s.image.mean()) * 4095) for s in reader.iter_frames()] == values


@pytest.mark.parametrize("count", [1, 2])
def test_deflated_files_of_one_and_two_frames(tmp_path, count):
    frames = np.stack([np.full((8, 8), 50 + 100 * k, np.uint8) for k in range(count)])
    path = tmp_path / "d.dcm"
    ds = write_dicom(path, frames, bits=8)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)
    reader = open_dataset(path)
    expected = [50 + 100 * k for k in range(count)]
    assert [round(float(reader[i].image.mean()) * 255) for i in range(count)] == expected
    streamed = list(reader.iter_frames())
    assert [s.image.shape for s in streamed] == [(8, 8)] * count
    assert [round(float(s.image.mean()) * 255) for s in streamed] == expected


@pytest.mark.parametrize("broken", [0, 1])
def test_an_undecodable_frame_names_the_file_and_the_frame(tmp_path, broken):
    frames = [np.full((16, 16), 80 * (k + 1), np.uint8) for k in range(3)]
    fragments = [cv2.imencode(".jpg", frame)[1].tobytes() for frame in frames]
    fragments[broken] = b"\xff\xd8 not a JPEG stream " * 4
    path = tmp_path / "j.dcm"
    ds = write_dicom(path, np.stack(frames), bits=8)
    ds.PixelData = encapsulate(fragments)
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.save_as(path, enforce_file_format=True)
    reader = open_dataset(path)
    message = rf"j\.dcm: cannot decode frame {broken} \(.+\)$"
    with pytest.raises(DataError, match=message):
        reader[broken]
    with pytest.raises(DataError, match=message):
        list(reader.iter_frames())


def test_frame_to_unit_colour_bit_depth_and_monochrome_stacks():
    from cathx.data.formats.dicom import frame_to_unit

    grey = np.full((2, 3, 3), 4095, np.uint16)  # a colour frame whose three samples agree
    header = Dataset()
    header.PhotometricInterpretation = "RGB"
    header.BitsAllocated = 16
    assert np.allclose(frame_to_unit(grey, header), 4095 / 65535)  # BitsStored missing: BitsAllocated
    header.BitsStored = 12
    assert np.allclose(frame_to_unit(grey, header), 1.0)  # scaled by the 12 stored bits
    with pytest.warns(UserWarning, match="VR US"):  # pydicom stores the bad value, with a warning
        header.BitsStored = "x"
    with pytest.raises(DataError, match=r"^c\.dcm: invalid BitsStored 'x'$"):
        frame_to_unit(grey, header, "c.dcm")
    for photometric in ("MONOCHROME2", None):  # a grey image never arrives as (H, W, 3); None: the default
        header = Dataset()
        if photometric:
            header.PhotometricInterpretation = photometric
        with pytest.raises(DataError, match=r"^m\.dcm: expected one frame, got an array of shape \(2, 3, 3\)$"):
            frame_to_unit(grey, header, "m.dcm")


@pytest.mark.parametrize(("value", "fps"), [(25, 25.0), ("30", 30.0), (0, None), (-5, None), (float("nan"), None),
                                            (float("inf"), None), (90000, None), (None, None), ("x", None)])
def test_plausible_fps(value, fps):
    from cathx.data.formats.base import plausible_fps

    assert plausible_fps(value) == fps


def test_a_header_with_unusable_timing_is_read_without_a_rate(tmp_path):
    """A file whose Frame Time is text is read (it was refused whole before 2026-12-06)."""
    path = tmp_path / "a.dcm"
    write_dicom(path, _ramp(3), FrameTime="12.5")
    data = path.read_bytes()
    assert data.count(b"12.5") == 1
    path.write_bytes(data.replace(b"12.5", b"n/a "))
    reader = open_dataset(path)
    assert len(reader) == 3 and reader.problems == [] and reader[0].meta["fps"] is None


def test_a_single_or_unreadable_pixel_spacing_is_no_spacing_and_the_frames_still_read(tmp_path):
    """One stored spacing value crashed ``read`` with a TypeError traceback and made ``iter_frames``
    refuse the whole file; text crashed it with a ValueError. Neither is a spacing; the pixels are
    fine."""
    single = tmp_path / "single.dcm"
    write_dicom(single, _ramp(2), ImagerPixelSpacing="0.25")
    text = tmp_path / "text.dcm"
    write_dicom(text, _ramp(2), PixelSpacing=["12.5", "12.5"])
    data = text.read_bytes()
    assert data.count(b"12.5\\12.5") == 1
    text.write_bytes(data.replace(b"12.5\\12.5", b"n/a\\n/a  "))
    for path in (single, text):
        reader = open_dataset(path)
        assert "pixel_spacing" not in reader[0].meta
        assert len(list(reader.iter_frames())) == 2


def test_an_unreadable_instance_number_sorts_as_zero_instead_of_failing_the_folder(tmp_path):
    series = generate_uid()
    write_dicom(tmp_path / "a.dcm", _ramp(1), SeriesInstanceUID=series, InstanceNumber=77)
    write_dicom(tmp_path / "b.dcm", _ramp(1), SeriesInstanceUID=series, InstanceNumber=2)
    data = (tmp_path / "a.dcm").read_bytes()
    element = b"\x20\x00\x13\x00IS"  # (0020,0013) Instance Number, explicit VR little endian
    assert data.count(element) == 1
    start = data.index(element) + len(element) + 2  # past the 2-byte length
    assert data[start:start + 2] == b"77"  # the value itself (the random UIDs may hold "77" too)
    (tmp_path / "a.dcm").write_bytes(data[:start] + b"1a" + data[start + 2:])
    reader = open_dataset(tmp_path)
    assert len(reader) == 2
    assert [s.meta["source"][-5:] for s in reader.iter_frames()] == ["a.dcm", "b.dcm"]
