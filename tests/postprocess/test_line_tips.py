"""Line tips and full-size masks from a classifier's line-mask probabilities, on hand-drawn maps."""

from __future__ import annotations

import numpy as np
import pytest

from cathx.postprocess.line_tips import line_tips, skeleton_endpoints, upscale_mask


def test_endpoints_of_an_l_shape():
    skeleton = np.zeros((9, 9), bool)
    skeleton[2, 2:7] = True  # (2, 2) .. (6, 2)
    skeleton[2:8, 6] = True  # down to (6, 7)
    ends = {tuple(p) for p in skeleton_endpoints(skeleton).astype(int)}
    assert ends == {(2, 2), (6, 7)}


def test_tip_is_the_end_nearest_the_centre_in_output_pixels():
    probs = np.zeros((4, 21, 21), np.float32)
    probs[2, 9:12, 0:16] = 0.8  # a CVC entering from the left edge, 3 px thick, ending at x = 15
    probs[0, 0:8, 10] = 0.6  # an ETT from the top, ending at y = 7
    tips = line_tips(probs, (42, 42))
    by_group = {t.group: t for t in tips}
    assert set(by_group) == {0, 2}
    # Pixel centres map as (x + 0.5) * 2 - 0.5.
    assert (by_group[2].x, by_group[2].y) == pytest.approx((15 * 2 + 0.5, 10 * 2 + 0.5), abs=2.1)
    assert by_group[2].x > 28  # the right end, not the entry at the left edge
    assert (by_group[0].x, by_group[0].y) == pytest.approx((20.5, 14.5))
    assert by_group[2].score == pytest.approx(0.8) and by_group[0].score == pytest.approx(0.6)


def test_the_nearest_end_is_measured_in_the_images_pixels_not_the_grids():
    """An L-shaped line on a 20 x 20 grid of a 3000 x 2000 radiograph (x steps 100 px, y steps
    150 px): end (14, 10) lies 4.5 cells but 456 px from the centre, end (10, 13) 3.5 cells but
    527 px; the tip is the first."""
    probs = np.zeros((1, 20, 20), np.float32)
    probs[0, 10, 10:15] = 0.9  # x 10..14 at y 10
    probs[0, 10:14, 10] = 0.9  # y 10..13 at x 10
    (tip,) = line_tips(probs, (3000, 2000), min_length=0.1)
    assert (tip.x, tip.y) == pytest.approx(((14 + 0.5) * 100 - 0.5, (10 + 0.5) * 150 - 0.5))


def test_specks_and_empty_maps_give_no_tips():
    probs = np.zeros((4, 50, 50), np.float32)
    probs[1, 10, 10] = 0.9  # one pixel: shorter than 4 % of 50 px
    assert line_tips(probs, (500, 500)) == []


def test_two_lines_of_one_group_give_two_tips():
    probs = np.zeros((4, 40, 40), np.float32)
    probs[2, 5, 0:15] = 0.9
    probs[2, 30, 25:40] = 0.7
    tips = sorted(line_tips(probs, (40, 40)), key=lambda t: t.y)
    assert [(t.x, t.y) for t in tips] == [(14.0, 5.0), (25.0, 30.0)]


def test_upscale_mask_to_a_3000_px_radiograph_is_uint8_0_255():
    probs = np.zeros((32, 32), np.float32)
    probs[10:12, :] = 1.0
    mask = upscale_mask(probs, (3000, 2400))
    assert mask.shape == (3000, 2400) and mask.dtype == np.uint8
    assert set(np.unique(mask)) == {0, 255}
    rows = np.nonzero(mask[:, 1200])[0]
    # Rows 10-11 of 32 cover 937.5-1125 of 3000; bilinear at the 0.5 level keeps that band.
    assert rows.min() == pytest.approx(937.5, abs=50) and rows.max() == pytest.approx(1125, abs=50)


def test_upscale_mask_by_hand():
    from cathx.postprocess.line_tips import upscale_mask

    probability = np.array([[0.0, 1.0], [-0.5, 2.0]])  # clipped to [0, 1]
    mask = upscale_mask(probability, (2, 2))
    assert mask.dtype == np.uint8 and mask.tolist() == [[0, 255], [0, 255]]
    # the cut is round(0.5 * 255) = 128 and inclusive: 128/255 passes, 127/255 does not
    assert upscale_mask(np.array([[128 / 255, 127 / 255]]), (1, 2)).tolist() == [[255, 0]]
    wide = upscale_mask(np.array([[0.0, 1.0]]), (1, 8))  # bilinear: a ramp cut in the middle
    assert wide.tolist() == [[0, 0, 0, 0, 255, 255, 255, 255]]


def test_skeleton_endpoints_by_hand():
    from cathx.postprocess.line_tips import skeleton_endpoints

    skeleton = np.zeros((5, 7), bool)
    skeleton[2, 0:5] = True  # touches the left border: the border counts as empty
    skeleton[3, 5] = True  # a diagonal step at the right end
    ends = skeleton_endpoints(skeleton)
    assert ends.dtype == np.float64 and sorted(ends.tolist()) == [[0.0, 2.0], [5.0, 3.0]]


def test_line_tips_maps_pixel_centres_and_scores_by_hand():
    probabilities = np.zeros((2, 20, 40))
    probabilities[0, 10, 2:20] = 0.8  # a line from the left edge to x = 19, the image centre at (19.5, 9.5)
    probabilities[1, 3, 30:32] = 0.9  # 2 px of skeleton: at least 0.04 x 40 = 1.6 px, so a line
    probabilities[1, 15, 5] = 0.95  # one pixel: too short
    tips = line_tips(probabilities, (40, 160))  # x 4x, y 2x
    assert [t.group for t in tips] == [0, 1]
    assert (tips[0].x, tips[0].y) == ((19 + 0.5) * 4 - 0.5, (10 + 0.5) * 2 - 0.5)
    assert tips[0].score == pytest.approx(0.8) and tips[1].score == pytest.approx(0.9)
    assert (tips[1].x, tips[1].y) == ((30 + 0.5) * 4 - 0.5, (3 + 0.5) * 2 - 0.5)  # the end nearer the centre
    at_threshold = np.zeros((1, 20, 40))
    at_threshold[0, 10, 2:20] = 0.5  # the threshold is inclusive
    assert len(line_tips(at_threshold, (20, 40))) == 1
