"""Overlay video: H.264 in yuv420p with the index first (what browsers play), at the source's rate."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from cathx.inference.visualize import VideoWriter


def _frames(count, height=47, width=63):
    for i in range(count):
        frame = np.zeros((height, width, 3), np.uint8)
        frame[:, : 5 * (i + 1)] = (200, 40, 40)
        yield frame


def test_h264_mp4_at_the_source_rate(tmp_path):
    path = tmp_path / "overlay.mp4"
    with VideoWriter(path, fps=29.97) as writer:
        for frame in _frames(5):
            writer.write(frame)
    assert writer.frames == 5 and sorted(p.name for p in tmp_path.iterdir()) == ["overlay.mp4"]
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # fast start: playable while downloading
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.codec_context.width, stream.codec_context.height) == (62, 46)  # odd sides trimmed
        assert stream.average_rate == Fraction(2997, 100)
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(decoded) == 5
    assert decoded[2][20, 12, 0] > 150 and decoded[2][20, 40, 0] < 50  # the third frame's red band


@pytest.mark.parametrize("fps", [None, 0, -3])
def test_missing_rate_defaults_to_15(tmp_path, fps):
    with VideoWriter(tmp_path / "o.mp4", fps=fps) as writer:
        for frame in _frames(2):
            writer.write(frame)
    with av.open(str(tmp_path / "o.mp4")) as container:
        assert container.streams.video[0].average_rate == 15


def test_frames_of_another_size_are_resized_and_nothing_written_leaves_no_file(tmp_path):
    with VideoWriter(tmp_path / "o.mp4", fps=10) as writer:
        writer.write(np.zeros((40, 40, 3), np.uint8))
        writer.write(np.zeros((80, 60, 3), np.uint8))
    with av.open(str(tmp_path / "o.mp4")) as container:
        assert container.streams.video[0].frames == 2
    VideoWriter(tmp_path / "empty.mp4").close()
    assert not (tmp_path / "empty.mp4").exists()
