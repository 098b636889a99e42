"""Video reader: mp4 and avi fixtures written with cv2.VideoWriter (builders.write_video)."""

from __future__ import annotations

import numpy as np
import pytest

from cathx.data.formats import detect_format, open_dataset
from cathx.errors import DataError

from builders import write_video


@pytest.mark.parametrize(("name", "fourcc"), [("run.mp4", "mp4v"), ("run.avi", "MJPG")])
def test_streams_frames_with_fps(tmp_path, name, fourcc):
    path = write_video(tmp_path / name, fourcc=fourcc)
    assert detect_format(path) == "video"
    reader = open_dataset(path)
    assert len(reader) == 12 and reader.problems == []
    frames = list(reader.iter_frames())
    assert len(frames) == 12
    for index, sample in enumerate(frames):
        sample.validate()
        assert sample.meta["frame_index"] == index and sample.meta["fps"] == pytest.approx(15.0)
        assert abs(float(np.median(sample.image[:, 32:])) - (40 + 15 * index) / 255) < 0.03
        assert sample.image[:, :8].mean() < 0.03
    np.testing.assert_allclose(reader[7].image, frames[7].image, atol=0.02)


def test_folder_of_videos(tmp_path):
    write_video(tmp_path / "a.mp4", frames=3)
    write_video(tmp_path / "b.avi", frames=4, fourcc="MJPG")
    reader = open_dataset(tmp_path)
    assert len(reader) == 7 and reader.frame_rates == [pytest.approx(15.0)] * 2
    assert reader[3].meta["source"].endswith("b.avi") and reader[3].meta["frame_index"] == 0


def test_bad_videos(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.mp4: file is empty \(0 bytes\)"):
        open_dataset(tmp_path / "empty.mp4")
    (tmp_path / "junk.avi").write_bytes(b"RIFF" + b"\x00" * 200)
    with pytest.raises(DataError, match=r"junk\.avi: (cannot open video|video has no decodable frames)"):
        open_dataset(tmp_path / "junk.avi")
    write_video(tmp_path / "ok.mp4", frames=3)
    reader = open_dataset(tmp_path)
    assert len(reader) == 3 and len(reader.problems) == 2
    assert all("(skipped)" in p for p in reader.problems)


def test_truncated_video_names_the_file(tmp_path):
    path = write_video(tmp_path / "t.mp4", frames=14)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(DataError, match=r"t\.mp4: (cannot open video|stream ended at frame 0)"):
        list(open_dataset(path).iter_frames())


def test_a_stream_shorter_than_its_header_keeps_its_frames_and_says_so(tmp_path):
    """Containers without a stored count give OpenCV's estimate (duration x rate), which can
    overstate: the frames decoded are kept and the shortfall is a problem line."""
    path = write_video(tmp_path / "short.avi", frames=6, fourcc="MJPG")
    reader = open_dataset(path)
    reader._files[0].frames = 8  # the header's estimate, two frames too many
    frames = list(reader.iter_frames())
    assert len(frames) == 6
    assert reader.problems == [f"{path}: stream ended at frame 6 of 8 (truncated or corrupt video, or a "
                               "frame count the header overstates); the frames after it were not read"]


def test_a_stream_longer_than_its_header_is_read_to_its_end_and_says_so(tmp_path, monkeypatch):
    """A count the header understates (an MKV or variable-rate estimate) silently dropped the end of
    the run; the frames past it are read, up to CATHX_MAX_FRAMES."""
    path = write_video(tmp_path / "long.avi", frames=6, fourcc="MJPG")
    reader = open_dataset(path)
    reader._files[0].frames = 4  # the header's estimate, two frames too few
    frames = list(reader.iter_frames())
    assert [f.meta["frame_index"] for f in frames] == [0, 1, 2, 3, 4, 5]
    assert reader.problems == [f"{path}: the header declares 4 frames but the stream holds more; all 6 were read"]
    reader = open_dataset(path)
    reader._files[0].frames = 4
    monkeypatch.setenv("CATHX_MAX_FRAMES", "5")  # after opening: the header's 6 would be refused
    assert len(list(reader.iter_frames())) == 5
    assert reader.problems[-1].endswith("the first 5 were read (CATHX_MAX_FRAMES)")


def test_indexed_reads_in_any_order_and_pickle(tmp_path):
    import pickle

    reader = open_dataset(write_video(tmp_path / "r.avi", frames=6, fourcc="MJPG"))
    streamed = [s.image for s in reader.iter_frames()]
    for index in (0, 1, 2, 5, 3, 4, 0):
        np.testing.assert_allclose(reader[index].image, streamed[index], atol=0.02)
    clone = pickle.loads(pickle.dumps(reader))
    np.testing.assert_allclose(clone[4].image, streamed[4], atol=0.02)
    reader.close()


def test_video_frame_size_is_checked_from_the_header(tmp_path, monkeypatch):
    path = write_video(tmp_path / "clip.avi", frames=3, size=64, fourcc="MJPG")
    monkeypatch.setenv("CATHX_MAX_IMAGE_SIDE", "32")
    with pytest.raises(DataError, match=r"clip\.avi: video header declares 64x64 px; the largest supported side "
                                        r"is 32 \(CATHX_MAX_IMAGE_SIDE"):
        open_dataset(path)


def test_folder_messages_shared_with_the_dicom_reader(tmp_path):
    from cathx.data.formats.dicom import DicomReader
    from cathx.data.formats.video import VideoReader

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".hidden.mp4").write_bytes(b"x")  # hidden files do not count
    for reader in (VideoReader, DicomReader):
        with pytest.raises(DataError, match=r"empty: folder is empty$"):
            reader(empty)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("no frames here")
    with pytest.raises(DataError, match=r"other: no video files \(.*\.mp4.*\) found$"):
        VideoReader(other)
    with pytest.raises(DataError, match=r"other: no DICOM files found$"):
        DicomReader(other)
    write_video(other / "a.mp4", frames=3)
    write_video(other / "b.mp4", frames=2)
    reader = VideoReader(other)
    assert reader._locate(2) == (0, 2) and reader._locate(3) == (1, 0) and len(reader) == 5
