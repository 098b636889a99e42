"""run_predict's output promises: reruns reuse cathx's own folder, inputs never collide, and
electrodes.csv is replaced whole (a run cut short leaves the earlier table intact)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from cathx.errors import CathxError
from cathx.inference import run as run_module
from cathx.inference.run import run_predict


def _inputs(folder):
    folder.mkdir()
    rng = np.random.default_rng(0)
    cv2.imwrite(str(folder / "x.png"), rng.integers(0, 255, (64, 64)).astype(np.uint8))
    cv2.imwrite(str(folder / "x.jpg"), rng.integers(0, 255, (64, 64)).astype(np.uint8))
    cv2.imwrite(str(folder / "y.png"), rng.integers(0, 255, (64, 64)).astype(np.uint8))
    return folder


def test_same_stem_inputs_get_distinct_outputs_and_reruns_match(tiny_checkpoint, tmp_path):
    source, out = _inputs(tmp_path / "in"), tmp_path / "out"
    summary = run_predict(source, tiny_checkpoint, out)
    assert summary["frames"] == 3
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["x_jpg.png", "x_png.png", "y.png"]
    first = (out / "electrodes.csv").read_text()
    run_predict(source, tiny_checkpoint, out)  # an earlier cathx output: reused
    assert (out / "electrodes.csv").read_text() == first
    assert not list(out.glob(".electrodes.csv.*"))


def test_a_run_cut_short_keeps_the_earlier_table(tiny_checkpoint, tmp_path, monkeypatch):
    source, out = _inputs(tmp_path / "in"), tmp_path / "out"
    run_predict(source, tiny_checkpoint, out)
    before = (out / "electrodes.csv").read_text()
    seen = []
    draw = run_module.draw_overlay

    def interrupted(image, results):
        seen.append((out / "electrodes.csv").read_text())
        if len(seen) == 2:
            raise KeyboardInterrupt  # stands in for a kill between frames
        return draw(image, results)

    monkeypatch.setattr(run_module, "draw_overlay", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_predict(source, tiny_checkpoint, out, peak_threshold=0.0)
    assert seen == [before, before]  # never truncated while the run went on
    rows = (out / "electrodes.csv").read_text().splitlines()
    assert rows[0] == before.splitlines()[0] and len(rows) > 1  # header + the one frame done, only
    assert {row.split(",")[0] for row in rows[1:]} == {"0"}


def test_a_first_frame_cut_short_after_its_files_leaves_a_folder_a_rerun_may_use(tiny_checkpoint, tmp_path,
                                                                                  monkeypatch):
    """A failure after frame 0's mask and overlay were written (an H.264 writer that cannot open)
    removed the new folder's marker but not the folder: every rerun was then refused as a folder
    of the user's. It keeps its marker and says what stopped it in summary.json."""
    source, out = _inputs(tmp_path / "in"), tmp_path / "out"

    def failing(self, rgb):
        raise CathxError("cannot open an H.264 MP4 writer")

    monkeypatch.setattr(run_module._SequenceOutputs, "write", failing)
    stack = tmp_path / "stack.tif"
    cv2.imwritemulti(str(stack), [np.full((64, 64), 40 * i, np.uint8) for i in range(3)])
    with pytest.raises(CathxError, match="H.264"):
        run_predict(stack, tiny_checkpoint, out)
    assert (out / "masks").is_dir()
    assert json.loads((out / "summary.json").read_text())["error"] == "cannot open an H.264 MP4 writer"
    monkeypatch.undo()
    assert run_predict(source, tiny_checkpoint, out)["frames"] == 3  # the rerun is not refused


def test_overlays_of_12_bit_frames_are_drawn_at_the_networks_scale(tiny_checkpoint, tmp_path):
    """A 16-bit PNG declaring 12 bits (sBIT), and one declaring none read with --bit-depth 12: the
    network saw 4095 as white, and so does the overlay (it divided by 65535: nearly black)."""
    from cathx.data.formats.imageio import add_png_significant_bits

    frame = np.full((64, 64), 4095, np.uint16)
    ok, png = cv2.imencode(".png", frame)
    declared, plain = tmp_path / "declared", tmp_path / "plain"
    declared.mkdir()
    plain.mkdir()
    (declared / "a.png").write_bytes(add_png_significant_bits(png.tobytes(), 12))
    (plain / "a.png").write_bytes(png.tobytes())
    for source, options in ((declared, {}), (plain, {"bit_depth": 12})):
        out = tmp_path / f"out_{source.name}"
        run_predict(source, tiny_checkpoint, out, mask_threshold=0.999, **options)
        overlay = cv2.imread(str(out / "overlays" / "a.png"))
        assert np.median(overlay) > 200, (source.name, np.median(overlay))


def test_a_users_folder_is_refused_untouched(tiny_checkpoint, tmp_path):
    source, out = _inputs(tmp_path / "in"), tmp_path / "mine"
    out.mkdir()
    (out / "electrodes.csv").write_text("my own table\n")
    with pytest.raises(CathxError, match="electrodes.csv"):
        run_predict(source, tiny_checkpoint, out)
    assert [p.name for p in out.iterdir()] == ["electrodes.csv"]
    assert (out / "electrodes.csv").read_text() == "my own table\n"


def test_a_folder_of_videos_tracks_each_video_on_its_own(tiny_checkpoint, tmp_path):
    """Two videos called run.mp4 in two folders: distinct frame names, and each its own tracked
    sequence with its own overlay and motion files (ids never carried from one into the other)."""
    from builders import write_video

    (tmp_path / "in" / "a").mkdir(parents=True)
    (tmp_path / "in" / "b").mkdir()
    write_video(tmp_path / "in" / "a" / "run.mp4", frames=3, fps=10.0)
    write_video(tmp_path / "in" / "b" / "run.mp4", frames=2, fps=25.0)
    out = tmp_path / "out"
    summary = run_predict(tmp_path / "in", tiny_checkpoint, out)
    assert summary["frames"] == 5
    assert sorted(p.stem for p in (out / "masks").iterdir()) == [
        "b_run_00000", "b_run_00001", "run_00000", "run_00001", "run_00002"]
    assert sorted(p.name for p in out.glob("overlay*.mp4")) == ["overlay_b_run.mp4", "overlay_run.mp4"]
    assert sorted(p.name for p in out.glob("motion*.csv")) == ["motion_b_run.csv", "motion_run.csv"]
    assert not (out / "overlay.mp4").exists()
    assert len((out / "motion_b_run.csv").read_text().splitlines()) == 1 + 2  # its own two frames


def test_a_sequence_whose_frames_change_size_stops_with_one_line(tiny_checkpoint, tmp_path):
    from builders import write_dicom

    series = "1.2.3.4.5"
    folder = tmp_path / "series"
    folder.mkdir()
    write_dicom(folder / "im1.dcm", np.zeros((1, 64, 64), np.uint16), SeriesInstanceUID=series, InstanceNumber=1)
    write_dicom(folder / "im2.dcm", np.zeros((1, 64, 64), np.uint16), SeriesInstanceUID=series, InstanceNumber=2)
    write_dicom(folder / "im3.dcm", np.zeros((1, 48, 80), np.uint16), SeriesInstanceUID=series, InstanceNumber=3)
    out = tmp_path / "out"
    with pytest.raises(CathxError, match=r"im3\.dcm: frame 2 is 80x48 px, the frames of its sequence before it "
                                         r"64x64; a sequence's frames must share one size"):
        run_predict(folder, tiny_checkpoint, out)
    assert len(list((out / "masks").iterdir())) == 2  # the frames before it are kept
    assert (out / "overlay.mp4").is_file() and (out / "motion.csv").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 2 and "must share one size" in summary["error"]
    # a rerun on images into the same folder leaves no video or motion curve of the run before
    run_predict(_inputs(tmp_path / "images"), tiny_checkpoint, out)
    assert not list(out.glob("overlay*.mp4")) and not list(out.glob("motion*"))
    assert "error" not in json.loads((out / "summary.json").read_text())


def test_a_stack_without_a_frame_rate_says_which_rate_was_used(tiny_checkpoint, tmp_path):
    frames = list(np.random.default_rng(0).integers(0, 255, (3, 64, 64)).astype(np.uint8))
    assert cv2.imwritemulti(str(tmp_path / "stack.tif"), frames)
    summary = run_predict(tmp_path / "stack.tif", tiny_checkpoint, tmp_path / "out")
    assert summary["problems"] == [f"{tmp_path / 'stack.tif'}: no usable frame rate; overlay and motion at 15 fps"]
