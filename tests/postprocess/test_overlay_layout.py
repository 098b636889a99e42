"""Overlay text: labels never overlap each other nor leave the frame; the legend takes the emptiest corner."""

from __future__ import annotations

import numpy as np
import pytest

from cathx.postprocess.overlay_layout import box_cover, legend_box, place_labels, summed_area
from cathx.postprocess.results import TYPE_COLOURS, Catheter, Results, _label_text


def _disjoint(a, b):
    return a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_summed_area_counts_pixels_in_boxes_clipped_to_the_image():
    occupancy = np.zeros((6, 8), np.uint8)
    occupancy[1:3, 2:5] = 1  # 6 pixels
    occupancy[5, 7] = 9  # any non-zero is one pixel
    table = summed_area(occupancy)
    assert table.shape == (7, 9)
    boxes = np.array([[0, 0, 8, 6], [2, 1, 5, 3], [3, 2, 4, 3], [4, 0, 8, 2], [6, 4, 20, 20],
                      [-5, -5, 0, 0]])
    assert box_cover(table, boxes).tolist() == [7, 6, 1, 1, 1, 0]


def test_two_labels_whose_spots_collide_get_disjoint_boxes_inside_the_image():
    # Tips 2 px apart: both want the box above right of their tip. The first (priority) gets it,
    # (53, 37)-(93, 47); the second's would be (55, 37)-(95, 47), over the first, so it takes its
    # next offset, below right: (55, 53)-(95, 63).
    tips = [np.array([[50.0, 50.0]]), np.array([[52.0, 50.0]])]
    placed = place_labels(tips, [(40, 10), (40, 10)], (100, 120))
    assert [p.box for p in placed] == [(53, 37, 93, 47), (55, 53, 95, 63)]
    assert not any(p.leader for p in placed)
    assert _disjoint(placed[0].box, placed[1].box)
    for p in placed:
        assert p.box[0] >= 0 and p.box[1] >= 0 and p.box[2] <= 120 and p.box[3] <= 100


def test_many_labels_at_one_tip_are_all_disjoint_and_inside():
    anchors = [np.array([[30.0, 30.0]])] * 9
    placed = place_labels(anchors, [(36, 9)] * 9, (80, 90))
    assert all(p is not None for p in placed)
    boxes = [p.box for p in placed]
    for i, a in enumerate(boxes):
        assert a[0] >= 1 and a[1] >= 1 and a[2] <= 89 and a[3] <= 79  # margin 1
        for b in boxes[i + 1:]:
            assert _disjoint(a, b)
    assert sum(p.leader for p in placed) >= 1  # the 8 spots around the tip fit fewer than 9 labels


def test_label_at_the_border_turns_inwards():
    # At x = 115 of 120 every box to the right would leave the image: above left, (72, 37)-(112, 47).
    placed = place_labels([np.array([[115.0, 50.0]])], [(40, 10)], (100, 120))
    assert placed[0].box == (72, 37, 112, 47)
    # At the top-right corner only below left remains: (72, 5)-(112, 15).
    placed = place_labels([np.array([[115.0, 2.0]])], [(40, 10)], (100, 120))
    assert placed[0].box == (72, 5, 112, 15)


def test_next_anchor_along_the_centreline_before_a_leader_line():
    # The tip's 8 spots are all under a blocked box; the second anchor's first spot is free.
    blocked = [(10, 36, 110, 64)]
    placed = place_labels([np.array([[60.0, 50.0], [60.0, 80.0]])], [(40, 10)], (100, 120), blocked=blocked)
    assert placed[0].box == (63, 67, 103, 77) and placed[0].anchor == (60.0, 80.0) and not placed[0].leader


def test_leader_line_when_nothing_beside_the_anchor_is_free():
    # Every offset box around (60, 50) lies inside y 36..64 and x 10..110. The first ring
    # (radius 2 * height = 20, straight up) centres the box at (60, 30): (40, 25)-(80, 35), one
    # pixel clear of the blocked box (pad 1).
    placed = place_labels([np.array([[60.0, 50.0]])], [(40, 10)], (100, 120), blocked=[(10, 36, 110, 64)])
    assert placed[0].box == (40, 25, 80, 35) and placed[0].leader and placed[0].anchor == (60.0, 50.0)


def test_no_room_anywhere_gives_none_and_later_labels_still_place():
    tips = [np.array([[10.0, 10.0]]), np.array([[10.0, 10.0]])]
    placed = place_labels(tips, [(70, 8), (20, 8)], (40, 60))
    assert placed[0] is None  # wider than the image
    assert placed[1].box == (13, 13, 33, 21)  # above right would leave the top: below right
    placed = place_labels([np.array([[20.0, 20.0]])], [(10, 10)], (40, 40), blocked=[(0, 0, 40, 40)])
    assert placed == [None]


def test_occupied_pixels_push_the_label_to_a_clear_spot():
    # A line through the preferred box (53, 37)-(93, 47) sends the label below right.
    occupancy = np.zeros((100, 120), np.uint8)
    occupancy[40:45, 50:100] = 1
    placed = place_labels([np.array([[50.0, 50.0]])], [(40, 10)], (100, 120), summed_area(occupancy))
    assert placed[0].box == (53, 53, 93, 63)


def test_legend_takes_the_corner_over_the_fewest_occupied_pixels():
    occupancy = np.zeros((100, 120), np.uint8)
    assert legend_box((30, 20), (100, 120), summed_area(occupancy)) == (4, 4, 34, 24)  # ties: top-left
    occupancy[:50, :] = 1
    occupancy[60:, 100:] = 1
    assert legend_box((30, 20), (100, 120), summed_area(occupancy)) == (4, 76, 34, 96)  # bottom-left
    occupancy[60:, :20] = 1
    occupancy[60:, 100:] = 0
    assert legend_box((30, 20), (100, 120), summed_area(occupancy)) == (86, 76, 116, 96)  # bottom-right
    assert legend_box((120, 20), (100, 120)) is None


@pytest.mark.parametrize("catheter, text", [
    (Catheter(3, "cs_decapolar", np.zeros((2, 2)), confidence=0.874), "#3 cs_decapolar 0.87"),
    (Catheter(1, "pacing", np.zeros((2, 2))), "#1 pacing"),
    (Catheter(2, "unknown", np.zeros((2, 2)), confidence=0.0), "#2 unknown"),
    (Catheter(-1, "lasso", np.zeros((2, 2)), confidence=0.61), "lasso 0.61"),  # a track not yet confirmed
])
def test_label_text(catheter, text):
    assert _label_text(catheter) == text


def _two_catheters(order):
    cs = Catheter(7, "cs_decapolar", np.array([[80, 60], [80, 130]], np.float32), confidence=0.9)
    quad = Catheter(2, "quadripolar", np.array([[82, 60], [140, 120]], np.float32), confidence=0.8)
    catheters = [cs, quad] if order else [quad, cs]
    return Results(image_size=(160, 200), mask=np.zeros((160, 200), np.uint8), catheters=catheters)


@pytest.mark.parametrize("order", [True, False])
def test_plot_legend_lists_types_in_a_fixed_order_with_their_colours(order):
    drawn = _two_catheters(order).plot(np.full((160, 200), 0.5, np.float32))
    # The legend sits top-left (4 px in); its swatches start 2 px further in, one row per type in
    # TYPE_COLOURS' order, whatever order the catheters came in.
    row = drawn[6:40, 7, :]
    colours = [tuple(int(v) for v in c) for c in row]
    cs_rows = [i for i, c in enumerate(colours) if c == TYPE_COLOURS["cs_decapolar"]]
    quad_rows = [i for i, c in enumerate(colours) if c == TYPE_COLOURS["quadripolar"]]
    assert cs_rows and quad_rows and max(cs_rows) < min(quad_rows)
    assert tuple(drawn[5, 5]) == (32, 32, 32)  # the legend's box: the grey frame at a quarter


def test_plot_without_legend_leaves_the_corner_alone():
    drawn = _two_catheters(True).plot(np.full((160, 200), 0.5, np.float32), legend=False)
    assert (drawn[:40, :40] == 128).all()


def test_plot_never_draws_on_the_callers_frame():
    frame = np.full((160, 200, 3), 128, np.uint8)
    results = _two_catheters(True)
    first = results.plot(frame)
    assert (frame == 128).all()  # an RGB uint8 frame is what _to_rgb8 hands back unchanged
    assert np.array_equal(results.plot(frame), first)


def test_plot_labels_each_id_once_known_types_first(monkeypatch):
    import cathx.postprocess.overlay_layout as layout

    calls = []

    def spy(anchors, sizes, *args, **kwargs):
        calls.append([len(a) for a in anchors])
        return place_labels(anchors, sizes, *args, **kwargs)

    monkeypatch.setattr(layout, "place_labels", spy)
    line = np.array([[20, 20], [60, 20]], np.float32)
    catheters = [Catheter(0, "unknown", line), Catheter(4, "cs_decapolar", line + 30),
                 Catheter(4, "cs_decapolar", line + 60), Catheter(2, "pacing", line + 90)]
    Results(image_size=(160, 200), catheters=catheters).plot(np.zeros((160, 200), np.float32))
    # pacing #2 (8 anchors), then cs_decapolar #4 with the anchors of both its pieces, then unknown #0
    assert calls == [[8, 16, 8]]


def test_plot_labels_catheters_without_an_id_each_on_their_own(monkeypatch):
    import cathx.postprocess.overlay_layout as layout

    calls, texts = [], []
    monkeypatch.setattr(layout, "place_labels", lambda anchors, sizes, *a, **k: calls.append(len(anchors)) or [None] * len(anchors))
    import cathx.postprocess.results as results_module

    original = results_module._label_text
    monkeypatch.setattr(results_module, "_label_text", lambda c, detail=2: texts.append((c.id, detail)) or original(c, detail))
    line = np.array([[20, 20], [60, 20]], np.float32)
    catheters = [Catheter(-1, "lasso", line), Catheter(-1, "lasso", line + 40), Catheter(3, "pacing", line + 80)]
    Results(image_size=(160, 200), catheters=catheters).plot(np.zeros((160, 200), np.float32))
    # three labels tried (the two without an id apart); with no room at detail 0 the two without
    # an id have nothing left to show ("") and are not tried again
    assert calls == [3, 3, 1]
    assert texts.count((-1, 0)) == 2


def test_box_cover_clips_boxes_hanging_off_any_side():
    from cathx.postprocess.overlay_layout import box_cover, summed_area

    table = summed_area(np.ones((4, 6), np.uint8))  # every pixel occupied
    boxes = [(-2, -3, 2, 1), (4, 2, 9, 9), (-5, 1, 10, 3), (1, -4, 3, 10), (0, 0, 6, 4), (7, 1, 9, 3)]
    assert box_cover(table, np.array(boxes)).tolist() == [2 * 1, 2 * 2, 6 * 2, 2 * 4, 24, 0]
    assert box_cover(table, (1, 1, 2, 2)).tolist() == [1]  # one box as a flat tuple
    assert summed_area(np.array([[0, 7], [3, 0]])).tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 2]]


def test_free_boxes_keep_their_margin_and_pad_inclusively():
    from cathx.postprocess.overlay_layout import _free

    size = (20, 30)  # (H, W)
    boxes = np.array([(2, 2, 10, 8), (1, 2, 10, 8), (2, 1, 10, 8), (20, 10, 28, 18), (20, 10, 29, 18),
                      (20, 10, 28, 19)])
    assert _free(boxes, np.zeros((0, 4), np.int64), size, margin=2, pad=0).tolist() == [
        True, False, False, True, False, False]
    taken = np.array([(12, 2, 16, 8)])
    near = np.array([(2, 2, 10, 8), (2, 2, 11, 8), (17, 2, 20, 8), (18, 2, 22, 8), (12, 9, 16, 12), (12, 10, 16, 12)])
    # 2 px clear is enough with pad 2 (edges 10 and 12); 1 px is not
    assert _free(near, taken, size, margin=0, pad=2).tolist() == [True, False, False, True, False, True]


def test_legend_box_fits_exactly_or_not_at_all():
    from cathx.postprocess.overlay_layout import box_cover, legend_box, summed_area

    assert legend_box((22, 12), (20, 30)) == (4, 4, 26, 16)  # 22 + 2 x 4 = 30: just fits
    assert legend_box((23, 12), (20, 30)) is None and legend_box((22, 13), (20, 30)) is None
    occupied = np.zeros((40, 60), np.uint8)
    occupied[:20, :30] = occupied[:20, 30:] = occupied[20:, :30] = 1  # only bottom-right is clear
    assert legend_box((10, 6), (40, 60), summed_area(occupied)) == (46, 30, 56, 36)
    assert legend_box((10, 6), (40, 60), summed_area(np.zeros((40, 60), np.uint8))) == (4, 4, 14, 10)
    assert box_cover(summed_area(occupied), np.array([(46, 30, 56, 36)])).tolist() == [0]
