"""run_predict's output promises: reruns reuse cathx's own folder, inputs never collide, and
electrodes.csv is replaced whole (a run cut short leaves the earlier table intact)."""

from __future__ import annotations

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


def test_a_users_folder_is_refused_untouched(tiny_checkpoint, tmp_path):
    source, out = _inputs(tmp_path / "in"), tmp_path / "mine"
    out.mkdir()
    (out / "electrodes.csv").write_text("my own table\n")
    with pytest.raises(CathxError, match="electrodes.csv"):
        run_predict(source, tiny_checkpoint, out)
    assert [p.name for p in out.iterdir()] == ["electrodes.csv"]
    assert (out / "electrodes.csv").read_text() == "my own table\n"
