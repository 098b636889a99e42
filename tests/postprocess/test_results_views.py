"""Results' views by hand: rows, dicts, repr, file names, PNG, save and the overlay's pixels."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from cathx.errors import CathxError
from cathx.postprocess.results import (
    TYPE_COLOURS,
    Catheter,
    Results,
    _file_name,
    _label_anchors,
    _label_text,
    _to_rgb8,
    encode_png,
    rescale_results,
    type_colour,
)


def _frame(name: str | None = "run/frame 7", mask: bool = True) -> Results:
    """Two catheters (ids 4 and 9) and three electrodes, the last one on no catheter."""
    grid = np.zeros((20, 30), np.uint8)
    grid[5, 2:12] = 1  # 10 mask pixels under the first catheter's line
    grid[17:19, 2:4] = 1  # and 4 away from every line and label
    return Results(
        image_size=(20, 30), mask=grid if mask else None,
        electrodes=np.array([[3.14159, 5.0], [10.0, 5.004], [25.5, 15.25]], np.float32),
        scores=np.array([0.912345, 0.5, 0.25], np.float32),
        sizes=np.array([[2.345, 3.0], [4.0, 5.5], [1.0, 1.0]], np.float32),
        electrode_catheter=np.array([0, 1, -1], np.int64), electrode_index=np.array([0, 0, -1], np.int64),
        electrode_ids=np.array([11, 12, -1], np.int64),
        catheters=[Catheter(4, "quadripolar", np.array([[2.0, 5.0], [11.0, 5.0]], np.float32)),
                   Catheter(9, "cs_decapolar", np.array([[10.0, 5.0], [10.0, 15.125]], np.float32),
                            closed=True, confidence=0.876543)],
        meta={"frame": 7, "name": name, "source": "x.dcm", "skip": [1, 2],
              "timings_ms": {"network": 12.34567, "postprocess": 2}},
    )


def test_electrode_rows_by_hand():
    rows = _frame().electrode_rows()
    assert rows == [
        {"frame": 7, "name": "run/frame 7", "x": 3.14, "y": 5.0, "score": 0.9123, "width": 2.35, "height": 3.0,
         "catheter_id": 4, "index": 0, "catheter_type": "quadripolar", "electrode_id": 11, "type_confidence": ""},
        {"frame": 7, "name": "run/frame 7", "x": 10.0, "y": 5.0, "score": 0.5, "width": 4.0, "height": 5.5,
         "catheter_id": 9, "index": 0, "catheter_type": "cs_decapolar", "electrode_id": 12,
         "type_confidence": 0.8765},
        {"frame": 7, "name": "run/frame 7", "x": 25.5, "y": 15.25, "score": 0.25, "width": 1.0, "height": 1.0,
         "catheter_id": -1, "index": -1, "catheter_type": "unknown", "electrode_id": -1, "type_confidence": ""},
    ]
    bare = Results((4, 4), electrodes=np.array([[1.0, 2.0]], np.float32), scores=np.ones(1, np.float32),
                   sizes=np.ones((1, 2), np.float32), electrode_catheter=np.array([-1]),
                   electrode_index=np.array([-1]), electrode_ids=np.array([-1]))
    assert bare.electrode_rows()[0]["frame"] == 0 and bare.electrode_rows()[0]["name"] == ""


def test_electrode_ids_and_types_follow_the_catheter_index():
    results = _frame()
    assert results.electrode_catheter_ids().tolist() == [4, 9, -1]
    assert results.electrode_types() == ["quadripolar", "cs_decapolar", "unknown"]
    assert [c.tolist() for c in results.centrelines] == [[[2.0, 5.0], [11.0, 5.0]], [[10.0, 5.0], [10.0, 15.125]]]


def test_to_dict_by_hand():
    payload = _frame().to_dict()
    assert payload["image_size"] == {"height": 20, "width": 30}
    # lists are not JSON-ready meta (left out); timings rounded to 3 decimals
    assert payload["meta"] == {"frame": 7, "name": "run/frame 7", "source": "x.dcm",
                               "timings_ms": {"network": 12.346, "postprocess": 2.0}}
    assert payload["mask_pixels"] == 14
    assert payload["electrodes"][1] == {"x": 10.0, "y": 5.0, "score": 0.5, "width": 4.0, "height": 5.5,
                                        "catheter_id": 9, "index": 0, "catheter_type": "cs_decapolar",
                                        "electrode_id": 12, "type_confidence": 0.8765}
    assert payload["catheters"] == [
        {"id": 4, "type": "quadripolar", "closed": False, "confidence": None,
         "centreline": [[2.0, 5.0], [11.0, 5.0]]},
        {"id": 9, "type": "cs_decapolar", "closed": True, "confidence": 0.8765,
         "centreline": [[10.0, 5.0], [10.0, 15.12]]},
    ]
    assert json.loads(_frame().to_json()) == payload
    assert _frame(mask=False).to_dict()["mask_pixels"] is None
    assert Catheter(1, "pacing", np.array([[1.23456, 2.0]]), confidence=0.5).to_dict(decimals=3)["centreline"] \
        == [[1.235, 2.0]]


def test_repr_by_hand():
    assert repr(_frame()) == ("Results('run/frame 7': 30x20, 2 catheters [quadripolar #4, cs_decapolar #9], "
                              "3 electrodes, mask 2.3%)")
    one = Results((10, 40), electrodes=np.zeros((1, 2), np.float32),
                  catheters=[Catheter(0, "pacing", np.zeros((2, 2), np.float32))])
    assert repr(one) == "Results(40x10, 1 catheter [pacing #0], 1 electrode)"
    assert repr(Results((3, 5))) == "Results(5x3, 0 catheters, 0 electrodes)"


def test_file_names_are_made_safe():
    assert _file_name("a/b\\c:d") == "a_b_c_d"
    assert _file_name("tab\there\n") == "tab_here_"
    assert _file_name(" .hidden. ") == "hidden"
    assert _file_name("..") == "image" and _file_name("") == "image"
    assert _file_name("frame 7.dcm") == "frame 7.dcm"


def test_label_text_and_anchors_by_hand():
    cs = Catheter(3, "cs_decapolar", np.array([[0.0, 0.0], [100.0, 0.0]]), confidence=0.456)
    assert [_label_text(cs, d) for d in (2, 1, 0)] == ["#3 cs_decapolar 0.46", "#3 cs_decapolar", "#3"]
    assert _label_text(Catheter(5, "unknown", cs.centreline, confidence=0.0)) == "#5 unknown"
    assert _label_text(Catheter(6, "lasso", cs.centreline)) == "#6 lasso"  # rules: no confidence
    # no id yet: the type alone; no id and no type (a track that never held a ring): no label at all
    assert _label_text(Catheter(-1, "lasso", cs.centreline, confidence=0.7)) == "lasso 0.70"
    assert [_label_text(Catheter(-1, "unknown", cs.centreline, confidence=0.0), d) for d in (2, 1, 0)] == [""] * 3
    anchors = _label_anchors(cs.centreline)
    assert anchors[:, 0].tolist() == [0.0, 10.0, 20.0, 35.0, 50.0, 65.0, 80.0, 100.0]
    assert np.all(anchors[:, 1] == 0.0)
    assert _label_anchors(np.array([[4.0, 5.0], [4.0, 5.0]])).tolist() == [[4.0, 5.0]]
    assert type_colour("lasso") == TYPE_COLOURS["lasso"] and type_colour("martian") == TYPE_COLOURS["unknown"]


def test_to_rgb8_scales_and_never_returns_more_than_three_channels():
    grey16 = np.array([[0, 65535]], np.uint16)
    assert _to_rgb8(grey16).tolist() == [[[0, 0, 0], [255, 255, 255]]]
    assert _to_rgb8(np.array([[0.0, 0.5, 1.0]]))[0, :, 0].tolist() == [0, 128, 255]  # [0, 1] floats, rounded
    assert _to_rgb8(np.array([[0.0, 127.5, 255.0]]))[0, :, 0].tolist() == [0, 128, 255]  # a 0-255 float frame
    rgba = np.zeros((1, 1, 4), np.uint8)
    rgba[0, 0] = (1, 2, 3, 4)
    assert _to_rgb8(rgba).tolist() == [[[1, 2, 3]]]


def test_png_round_trip_keeps_rgb_order():
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    back = cv2.cvtColor(cv2.imdecode(np.frombuffer(encode_png(rgb), np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert np.array_equal(back, rgb)
    grey = np.array([[0, 255]], np.uint8)
    assert np.array_equal(cv2.imdecode(np.frombuffer(encode_png(grey), np.uint8), cv2.IMREAD_UNCHANGED), grey)


def test_plot_tints_the_mask_draws_in_type_colours_and_leaves_the_image_alone():
    results = _frame()
    image = np.full((20, 30), 100, np.uint8)
    drawn = results.plot(image, mask_alpha=0.5, legend=False)
    assert drawn.shape == (20, 30, 3) and drawn.dtype == np.uint8
    assert np.all(image == 100)  # the caller's frame is untouched
    tinted = (0.5 * 100 + 0.5 * np.array([0, 160, 255], np.float32)).astype(np.uint8)
    assert tuple(drawn[19, 0]) == (100, 100, 100)  # far from everything
    assert tuple(drawn[18, 2]) == tuple(tinted) and tuple(drawn[17, 3]) == tuple(tinted)  # mask only
    assert tuple(drawn[5, 3]) == TYPE_COLOURS["quadripolar"]  # the line is drawn over the mask
    # the CS centreline (x = 10 from y = 5 to 15) in its colour somewhere away from labels
    column = [tuple(drawn[y, 10]) for y in range(7, 15)]
    assert TYPE_COLOURS["cs_decapolar"] in column
    # the unassigned electrode at (25.5, 15.25) drawn as a cross in the "unknown" grey
    assert tuple(drawn[15, 26]) == TYPE_COLOURS["unknown"] or tuple(drawn[15, 25]) == TYPE_COLOURS["unknown"]
    with pytest.raises(CathxError, match="no image attached"):
        results.plot()


def test_plot_of_an_rgb_frame_draws_on_a_copy_and_resizes_to_the_results():
    results = _frame()
    rgb = np.full((40, 60, 3), 50, np.uint8)
    drawn = results.plot(rgb)
    assert drawn.shape == (20, 30, 3) and np.all(rgb == 50)
    same_size = np.full((20, 30, 3), 50, np.uint8)
    assert not np.shares_memory(results.plot(same_size), same_size) and np.all(same_size == 50)


def test_repr_png_shrinks_large_frames_and_needs_an_image():
    results = _frame()
    assert results._repr_png_() is None
    big = rescale_results(results, (1000, 2048))
    big.image = np.zeros((1000, 2048), np.uint8)
    decoded = cv2.imdecode(np.frombuffer(big._repr_png_(), np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (500, 1024, 3)
    results.image = np.zeros((20, 30), np.uint8)
    assert cv2.imdecode(np.frombuffer(results._repr_png_(), np.uint8), cv2.IMREAD_COLOR).shape == (20, 30, 3)


def test_save_writes_mask_json_and_overlay_and_refuses_a_foreign_folder(tmp_path):
    results = _frame()
    written = results.save(tmp_path / "out")
    assert sorted(written) == ["json", "mask"]  # no image attached: no overlay
    assert written["mask"] == tmp_path / "out" / "masks" / "run_frame 7.png"
    mask = cv2.imread(str(written["mask"]), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (20, 30) and set(np.unique(mask).tolist()) == {0, 255} and (mask == 255).sum() == 14
    assert written["json"].read_text() == results.to_json() + "\n"
    results.image = np.zeros((20, 30), np.uint8)
    again = results.save(tmp_path / "out")  # earlier cathx output: written over
    assert again["overlay"] == tmp_path / "out" / "overlays" / "run_frame 7.png"
    assert cv2.imread(str(again["overlay"])).shape == (20, 30, 3)
    unnamed = _frame(name=None, mask=False).save(tmp_path / "other")
    assert unnamed["mask"].name == "image.png"
    assert not cv2.imread(str(unnamed["mask"]), cv2.IMREAD_UNCHANGED).any()  # no mask: an empty one
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(CathxError):
        results.save(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mine"


def test_rescale_maps_pixel_centres_by_hand():
    results = _frame()
    big = rescale_results(results, (40, 90))  # x 3x, y 2x: x' = (x + 0.5) * 3 - 0.5
    assert big.image_size == (40, 90)
    assert big.electrodes[0].tolist() == pytest.approx([(3.14159 + 0.5) * 3 - 0.5, (5.0 + 0.5) * 2 - 0.5], abs=1e-4)
    assert big.sizes[1].tolist() == [12.0, 11.0]
    assert big.catheters[1].centreline[0].tolist() == [31.0, 10.5] and big.catheters[1].closed
    assert big.catheters[1].confidence == results.catheters[1].confidence and big.catheters[0].id == 4
    assert big.mask is None  # the caller passes the resized mask
    assert big.electrode_ids is results.electrode_ids and big.meta is results.meta


def _one_catheter(kind: str, size: int = 200, confidence: float | None = 0.9) -> Results:
    line = np.stack([np.linspace(150, 190, 41), np.full(41, 150.0)], 1).astype(np.float32)
    return Results((size, size), catheters=[Catheter(3, kind, line, confidence=confidence)])


def test_legend_sits_in_the_empty_corner_with_its_swatch_on_a_darkened_box():
    from cathx.postprocess.overlay_layout import legend_box
    from cathx.postprocess.results import LABEL_FONT_SCALE, _text_size

    results = _one_catheter("lasso")
    drawn = results.plot(np.full((200, 200), 200, np.uint8))
    (width, height), _ = _text_size("lasso", LABEL_FONT_SCALE, 1, 2)
    x0, y0, x1, y1 = legend_box((height - 4 + 2 + width, height), (200, 200))
    assert (x0, y0) == (4, 4)  # the frame's top-left is empty
    assert tuple(drawn[3, 3]) == (200, 200, 200)  # the margin is left alone
    assert tuple(drawn[y1 - 1, x1 - 1]) == (50, 50, 50)  # the box: a quarter of the brightness
    assert tuple(drawn[y0 + 3, x0 + 3]) == TYPE_COLOURS["lasso"]  # the swatch
    without = results.plot(np.full((200, 200), 200, np.uint8), legend=False)
    assert tuple(without[y1 - 1, x1 - 1]) == (200, 200, 200)


def test_label_beside_the_tip_in_the_type_colour_on_a_dark_box():
    drawn = _one_catheter("quadripolar").plot(np.full((200, 200), 200, np.uint8), legend=False)
    near = drawn[120:180, 110:200].reshape(-1, 3)
    colours = {tuple(p) for p in near.tolist()}
    assert (50, 50, 50) in colours  # the label's dark box
    assert TYPE_COLOURS["quadripolar"] in colours
    assert tuple(drawn[10, 10]) == (200, 200, 200)  # far from the catheter: untouched
    # a frame of more than 768 px draws at twice the scale: thicker lines
    big = _one_catheter("quadripolar", size=1024)
    thin = _one_catheter("quadripolar").plot(np.zeros((200, 200), np.uint8), legend=False)
    thick = big.plot(np.zeros((1024, 1024), np.uint8), legend=False)
    column = lambda image: int((image[140:160, 170].astype(int).sum(axis=1) > 300).sum())  # lit across the line
    assert column(thick) > column(thin) >= 1
