import numpy as np
import pytest
import torch

from cathx.metrics import batch_dice, batch_iou, cldice, dice, iou, mean_j, segmentation_kpi


def masks():
    pred = np.zeros((4, 4), bool)
    pred[0, :3] = True  # 3 pixels
    target = np.zeros((4, 4), bool)
    target[0, 1:] = True  # 3 pixels, 2 shared
    return pred, target


def test_iou_dice_hand_computed():
    pred, target = masks()
    assert iou(pred, target) == pytest.approx(2 / 4)
    assert dice(pred, target) == pytest.approx(4 / 6)


def test_empty_conventions():
    empty = np.zeros((3, 3), bool)
    full = np.ones((3, 3), bool)
    assert iou(empty, empty) == 1.0 and dice(empty, empty) == 1.0 and cldice(empty, empty) == 1.0
    assert iou(empty, full) == 0.0 and dice(full, empty) == 0.0 and cldice(empty, full) == 0.0


def test_mean_j_is_per_image_mean_not_global():
    # Image 1: IoU 1 on 1 pixel; image 2: IoU 0 on 100 pixels. Mean J = 0.5 (global IoU ~0.01).
    assert mean_j([1.0, 0.0]) == 0.5
    assert np.isnan(mean_j([]))


def test_cldice_hand_computed():
    target = np.zeros((9, 9), bool)
    target[3:6, 1:8] = True  # a 3-wide bar; its skeleton is the middle row, 7 px (cols 1-7) or less
    pred = np.zeros((9, 9), bool)
    pred[4, 1:5] = True  # a 1-wide line covering the left half
    # skel(pred) = pred lies inside target: Tprec = 1. Tsens = |skel(T) & P| / |skel(T)|.
    from skimage.morphology import skeletonize

    skeleton = skeletonize(target)
    tsens = (skeleton & pred).sum() / skeleton.sum()
    assert cldice(pred, target) == pytest.approx(2 * tsens / (1 + tsens))
    assert cldice(target, target) == 1.0


def test_batch_versions_match_numpy():
    pred, target = masks()
    p = torch.tensor(np.stack([pred, np.zeros_like(pred)]))[:, None]
    t = torch.tensor(np.stack([target, np.zeros_like(target)]))[:, None]
    assert batch_iou(p, t).tolist() == pytest.approx([0.5, 1.0])
    assert batch_dice(p, t).tolist() == pytest.approx([4 / 6, 1.0])


def test_segmentation_kpi_thresholds_logits():
    logits = torch.tensor([[-1.0, 2.0], [3.0, -4.0]]).reshape(1, 1, 2, 2)
    mask = torch.tensor([[0.0, 1.0], [0.0, 0.0]]).reshape(1, 1, 2, 2)
    assert segmentation_kpi(logits, mask, "iou").item() == pytest.approx(0.5)
    assert segmentation_kpi(logits, mask, "dice").item() == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="choose from iou, dice"):
        segmentation_kpi(logits, mask, "f1")


def test_batch_metrics_on_a_single_pixel():
    # one predicted pixel and an empty target: union 1, IoU 0 and Dice 0 (not the both-empty 1);
    # the same pixel in both: IoU 1 (intersection 1 over union 1)
    pixel = torch.zeros(2, 1, 2, 2, dtype=torch.bool)
    pixel[:, 0, 0, 0] = True
    target = pixel.clone()
    target[0] = False
    assert batch_iou(pixel, target).tolist() == [0.0, 1.0]
    assert batch_dice(pixel, target).tolist() == [0.0, 1.0]


@pytest.mark.filterwarnings("error")  # the mean of nothing must not warn
def test_mean_j_of_no_image_is_nan():
    assert np.isnan(mean_j([]))
    assert mean_j([1, 0, 0]) == pytest.approx(1 / 3)


def test_segmentation_kpi_thresholds_logits_at_zero():
    # a logit of 0.5 (probability 0.62) is foreground: IoU 1 against a one-pixel mask
    logits = torch.full((1, 1, 2, 2), -3.0)
    logits[0, 0, 0, 0] = 0.5
    mask = torch.zeros((1, 1, 2, 2))
    mask[0, 0, 0, 0] = 1.0
    assert segmentation_kpi(logits, mask).tolist() == [1.0]


def test_cldice_by_hand_on_thin_masks():
    line = np.zeros((6, 6), bool)
    line[2, 0:4] = True  # a 4-pixel line: its own skeleton
    half = np.zeros((6, 6), bool)
    half[2, 0:2] = True
    # Tprec = 2 / 4 of the line's skeleton lies in the half, Tsens = 2 / 2: 2 * 0.5 * 1 / 1.5
    assert cldice(line, half) == pytest.approx(2 / 3)
    dot = np.zeros((6, 6), bool)
    dot[2, 1] = True  # a one-pixel skeleton inside the line: Tprec 1 / 1, Tsens 1 / 4 -> 0.4
    assert cldice(dot, line) == pytest.approx(0.4)
    assert cldice(line, dot) == pytest.approx(0.4)
    apart = np.zeros((6, 6), bool)
    apart[5, 5] = True
    assert cldice(dot, apart) == 0.0  # Tprec = Tsens = 0


def test_centreline_counts_by_hand():
    from cathx.metrics.segmentation import centreline_counts, centreline_f1

    truth = np.zeros((32, 32), bool)
    truth[10, 5:15] = True  # 10 annotated centreline pixels
    predicted = np.zeros((32, 32), bool)
    predicted[13, 5:20] = True  # 15 px, 3 px below; its last 5 reach past the truth's end
    counts = centreline_counts(predicted, truth, tolerance=3.0)
    assert counts == (10, 15, 10, 10)
    precision, recall, f1 = centreline_f1(counts)
    assert precision == pytest.approx(2 / 3) and recall == 1.0 and f1 == pytest.approx(0.8)
    assert centreline_counts(predicted, truth, tolerance=2.5) == (0, 15, 0, 10)
    assert centreline_f1(centreline_counts(np.zeros_like(truth), truth, 3.0)) == (0.0, 0.0, 0.0)


def test_centreline_counts_of_a_mask_equal_those_of_its_skeleton_passed_as_one():
    from skimage.morphology import skeletonize

    from cathx.metrics.segmentation import centreline_counts

    truth = np.zeros((32, 32), bool)
    truth[10, 5:15] = True
    band = np.zeros((32, 32), bool)
    band[11:16, 3:22] = True  # a 5 px wide band: its skeleton is a line along row 13
    assert centreline_counts(band, truth, 3.0) == centreline_counts(skeletonize(band), truth, 3.0, skeletonised=True)
    # not thinned again when it says it is a skeleton: the band itself then counts every pixel
    assert centreline_counts(band, truth, 3.0, skeletonised=True)[1] == band.sum()
