import math

import pytest
import torch

from cathx.losses import (
    MultiTaskCriterion,
    bce_loss,
    centernet_focal_loss,
    size_l1_loss,
    soft_dice_loss,
    soft_iou_loss,
)


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_focal_loss_hand_computed():
    # 1 positive cell predicted 0.8, 1 negative cell with target 0.5 predicted 0.4, one cell y=0 p=0.1.
    logits = torch.tensor([logit(0.8), logit(0.4), logit(0.1)]).reshape(1, 1, 1, 3)
    target = torch.tensor([1.0, 0.5, 0.0]).reshape(1, 1, 1, 3)
    positive = torch.tensor([True, False, False]).reshape(1, 1, 1, 3)
    expected = -((0.2**2) * math.log(0.8) + (0.5**4) * (0.4**2) * math.log(0.6) + (0.1**2) * math.log(0.9))
    assert centernet_focal_loss(logits, target, positive).item() == pytest.approx(expected, rel=1e-5)


def test_focal_loss_per_sample_normalised_by_positives_and_finite():
    logits = torch.tensor([[-50.0, 50.0, 50.0, -50.0], [50.0, -50.0, 0.0, 0.0]]).reshape(2, 1, 2, 2)
    target = torch.zeros(2, 1, 2, 2)
    positive = torch.zeros(2, 1, 2, 2, dtype=torch.bool)
    positive[0, 0, 0, 0] = positive[0, 0, 0, 1] = True
    loss = centernet_focal_loss(logits, target, positive)
    assert loss.shape == (2,) and torch.isfinite(loss).all()
    # Sample 0: positive at -50 costs 50, positive at 50 costs 0, negative (y=0) at 50 costs 50,
    # negative at -50 costs 0: 100 / 2 positives.
    assert loss[0].item() == pytest.approx(50.0, rel=1e-3)


def test_size_l1_hand_computed():
    pred = torch.zeros(1, 2, 2, 2)
    pred[0, :, 0, 0] = torch.tensor([5.0, 2.0])
    target = torch.zeros(1, 2, 2, 2)
    target[0, :, 0, 0] = torch.tensor([4.0, 4.0])
    positive = torch.zeros(1, 1, 2, 2, dtype=torch.bool)
    positive[0, 0, 0, 0] = True
    assert size_l1_loss(pred, target, positive).item() == pytest.approx(1.5)
    assert size_l1_loss(pred, target, torch.zeros_like(positive)).item() == 0.0


def test_segmentation_losses_hand_computed():
    logits = torch.tensor([logit(0.75), logit(0.25)]).reshape(1, 1, 1, 2)
    target = torch.tensor([1.0, 0.0]).reshape(1, 1, 1, 2)
    assert bce_loss(logits, target).item() == pytest.approx(-math.log(0.75), rel=1e-5)
    # intersection 0.75, union 1.0 + 1.0 - 0.75 = 1.25, smooth 1: 1 - 1.75 / 2.25
    assert soft_iou_loss(logits, target).item() == pytest.approx(1 - 1.75 / 2.25, rel=1e-5)
    # 2 * intersection 1.5, sum p + sum y = 1.0 + 1.0, smooth 1: 1 - 2.5 / 3
    assert soft_dice_loss(logits, target).item() == pytest.approx(1 - 2.5 / 3.0, rel=1e-5)


def test_dice_segmentation_loss_option_and_bad_name():
    batch = make_batch()
    outputs = {"mask": torch.randn(3, 1, 32, 32)}
    parts = MultiTaskCriterion(segmentation_loss="dice").compute(outputs, batch)
    expected = soft_dice_loss(outputs["mask"], batch["mask"])
    torch.testing.assert_close(parts.losses["segmentation"][[0, 2]], expected[[0, 2]])
    assert parts.losses["segmentation"][1] == 0  # unlabelled sample stays masked out
    assert "dice" in parts.components and "iou" not in parts.components
    with pytest.raises(ValueError, match="choose from bce-iou, dice"):
        MultiTaskCriterion(segmentation_loss="focal")


def make_batch(batch=3, size=32, count=4):
    torch.manual_seed(0)
    return {
        "image": torch.rand(batch, 1, size, size),
        "mask": (torch.rand(batch, 1, size, size) > 0.9).float(),
        "has_mask": torch.tensor([True, False, True]),
        "electrodes": torch.rand(batch, count, 2) * (size - 1),
        "electrode_sizes": torch.full((batch, count, 2), 4.0),
        "electrode_valid": torch.tensor([[True, True, False, False]] * batch),
        "has_electrodes": torch.tensor([True, True, False]),
        "index": torch.arange(batch),
    }


def test_criterion_masks_unlabelled_samples_without_nan():
    batch = make_batch()
    outputs = {
        "mask": torch.randn(3, 1, 32, 32, requires_grad=True),
        "heatmap": torch.randn(3, 1, 8, 8, requires_grad=True),
        "size": torch.randn(3, 2, 8, 8, requires_grad=True),
    }
    criterion = MultiTaskCriterion()
    parts = criterion.compute(outputs, batch)
    assert set(parts.losses) == {"segmentation", "detection"}
    assert parts.available["segmentation"].tolist() == [True, False, True]
    assert parts.available["detection"].tolist() == [True, True, False]
    assert parts.losses["segmentation"][1] == 0 and parts.losses["detection"][2] == 0
    assert (parts.losses["segmentation"][[0, 2]] > 0).all() and (parts.losses["detection"][:2] > 0).all()
    torch.testing.assert_close(parts.losses["detection"], parts.components["focal"] + parts.components["size"])
    total = sum(v.mean() for v in criterion(outputs, batch).values())
    total.backward()
    for tensor in outputs.values():
        assert torch.isfinite(tensor.grad).all()
    # No gradient reaches the unlabelled sample's mask.
    assert outputs["mask"].grad[1].abs().sum() == 0


def test_criterion_single_task_outputs():
    batch = make_batch()
    criterion = MultiTaskCriterion()
    assert set(criterion({"mask": torch.zeros(3, 1, 32, 32)}, batch)) == {"segmentation"}
    assert set(criterion({"heatmap": torch.zeros(3, 1, 8, 8), "size": torch.zeros(3, 2, 8, 8)}, batch)) == {"detection"}
    with pytest.raises(ValueError):
        criterion({}, batch)


def test_criterion_perfect_detection_is_near_zero():
    batch = make_batch()
    criterion = MultiTaskCriterion()
    targets = criterion.targets(batch, (32, 32))
    heat_logits = torch.where(targets["positive"], torch.tensor(20.0), torch.tensor(-20.0))
    losses = criterion({"heatmap": heat_logits, "size": targets["size"]}, batch)
    assert losses["detection"].max().item() < 1e-3


def test_criterion_reads_stride_from_shapes():
    batch = make_batch()
    criterion = MultiTaskCriterion()
    for stride in (4, 2, 1):
        targets = criterion.targets(batch, (32, 32), stride=stride)
        assert targets["heatmap"].shape == (3, 1, 32 // stride, 32 // stride)
        heat_logits = torch.where(targets["positive"], torch.tensor(20.0), torch.tensor(-20.0))
        losses = criterion({"heatmap": heat_logits, "size": targets["size"]}, batch)
        assert losses["detection"].max().item() < 1e-3
    with pytest.raises(ValueError, match="not an integer stride"):
        criterion({"heatmap": torch.zeros(3, 1, 5, 5)}, batch)


def test_focal_loss_batch_normalisation_is_centernets_hand_computed():
    # Image 0: one positive predicted 0.5 -> S_0 = 0.25 * log 0.5. Image 1: three positives predicted 0.5
    # -> S_1 = 3 * 0.25 * log 0.5. Negatives sit at target 1 (weight (1 - y)^4 = 0), so they add nothing.
    logits = torch.zeros(2, 1, 1, 4)
    target = torch.ones(2, 1, 1, 4)
    positive = torch.tensor([[True, False, False, False], [True, True, True, False]]).reshape(2, 1, 1, 4)
    unit = -0.25 * math.log(0.5)
    per_image = centernet_focal_loss(logits, target, positive, normalisation="image")
    assert per_image.tolist() == pytest.approx([unit / 1, 3 * unit / 3])
    per_batch = centernet_focal_loss(logits, target, positive, normalisation="batch")
    # CenterNet: -(S_0 + S_1) / 4 positives = unit; per image S_b * B / 4 so the batch mean is that value
    assert per_batch.tolist() == pytest.approx([unit * 2 / 4, 3 * unit * 2 / 4])
    assert per_batch.mean().item() == pytest.approx(unit)
    # the default stays per image (callers outside training); training's config default is "batch"
    assert centernet_focal_loss(logits, target, positive).tolist() == pytest.approx(per_image.tolist())
    with pytest.raises(ValueError, match="choose from batch, image"):
        centernet_focal_loss(logits, target, positive, normalisation="sample")


def test_criterion_focal_normalisation_option():
    batch = make_batch()
    outputs = {"heatmap": torch.zeros(3, 1, 8, 8), "size": torch.zeros(3, 2, 8, 8)}
    image = MultiTaskCriterion(focal_normalisation="image").compute(outputs, batch).components["focal"]
    both = MultiTaskCriterion(focal_normalisation="batch").compute(outputs, batch).components["focal"]
    # two labelled images with 2 electrodes each (the third has none): batch mean positives = 4 / 3 per image
    torch.testing.assert_close(both[:2], image[:2] * 2 / (4 / 3))
    assert both[2] == 0
    with pytest.raises(ValueError, match="choose from batch, image"):
        MultiTaskCriterion(focal_normalisation="none")


def test_focal_loss_batch_normalisation_on_one_image_and_on_one_positive():
    # One image, one positive predicted 0.5, its negatives at target 1 (weight 0): S = 0.25 * ln 0.5.
    # "batch" on a batch of one image is the per-image value: -S * 1 / max(1, 1) = unit.
    unit = -0.25 * math.log(0.5)
    logits = torch.zeros(1, 1, 1, 3)
    target = torch.ones(1, 1, 1, 3)
    positive = torch.tensor([True, False, False]).reshape(1, 1, 1, 3)
    assert centernet_focal_loss(logits, target, positive, normalisation="batch").tolist() == pytest.approx([unit])
    # Two images, one positive between them: mean positives per image 1 / 2 (no floor at 1 per
    # image): image 0 gives unit / 0.5 = 2 unit, image 1 (no positive, negatives at target 1) 0.
    logits = torch.zeros(2, 1, 1, 3)
    target = torch.ones(2, 1, 1, 3)
    positive = torch.zeros(2, 1, 1, 3, dtype=torch.bool)
    positive[0, 0, 0, 0] = True
    assert centernet_focal_loss(logits, target, positive, normalisation="batch").tolist() == pytest.approx([2 * unit, 0.0])


def test_size_l1_per_sample_over_its_own_positives():
    # Image 0: positives at (0, 0) and (0, 1), predicted (5, 2) and (3, 3) for (4, 4) and (4, 4):
    # |1| + |2| + |1| + |1| = 5 over 2 cells x 2 values -> 1.25. Image 1: one positive predicted
    # (6, 6) for (4, 4): 4 / 2 -> 2. Pooling the errors (9) or the cells (3) would give other values.
    pred = torch.zeros(2, 2, 2, 2)
    target = torch.zeros(2, 2, 2, 2)
    positive = torch.zeros(2, 1, 2, 2, dtype=torch.bool)
    pred[0, :, 0, 0], pred[0, :, 0, 1] = torch.tensor([5.0, 2.0]), torch.tensor([3.0, 3.0])
    target[0, :, 0, 0] = target[0, :, 0, 1] = torch.tensor([4.0, 4.0])
    positive[0, 0, 0, 0] = positive[0, 0, 0, 1] = True
    pred[1, :, 1, 1], target[1, :, 1, 1] = torch.tensor([6.0, 6.0]), torch.tensor([4.0, 4.0])
    positive[1, 0, 1, 1] = True
    pred[1, :, 0, 0] = 100.0  # off the positives: no cost
    assert size_l1_loss(pred, target, positive).tolist() == pytest.approx([1.25, 2.0])


def test_criterion_segmentation_components_hand_computed():
    # Two images of 1 x 2 pixels, logits for p = 0.75, 0.25 and target 1, 0 (as in
    # test_segmentation_losses_hand_computed): BCE -ln 0.75, soft IoU 1 - 1.75 / 2.25, Dice 1 - 2.5 / 3.
    # Image 1 has no mask: every component is 0 there.
    logits = torch.tensor([logit(0.75), logit(0.25)]).reshape(1, 1, 1, 2).repeat(2, 1, 1, 1)
    batch = {"mask": torch.tensor([1.0, 0.0]).reshape(1, 1, 1, 2).repeat(2, 1, 1, 1),
             "has_mask": torch.tensor([True, False])}
    bce, iou, dice = -math.log(0.75), 1 - 1.75 / 2.25, 1 - 2.5 / 3
    parts = MultiTaskCriterion().compute({"mask": logits}, batch)
    assert parts.components["bce"].tolist() == pytest.approx([bce, 0.0], rel=1e-5)
    assert parts.components["iou"].tolist() == pytest.approx([iou, 0.0], rel=1e-5)
    assert parts.losses["segmentation"].tolist() == pytest.approx([bce + iou, 0.0], rel=1e-5)
    parts = MultiTaskCriterion(segmentation_loss="dice").compute({"mask": logits}, batch)
    assert parts.components["bce"].tolist() == pytest.approx([bce, 0.0], rel=1e-5)
    assert parts.components["dice"].tolist() == pytest.approx([dice, 0.0], rel=1e-5)
    assert parts.losses["segmentation"].tolist() == pytest.approx([dice, 0.0], rel=1e-5)
    with pytest.raises(ValueError, match="outputs hold neither 'mask' nor 'heatmap'"):
        MultiTaskCriterion().compute({"size": torch.zeros(1, 2, 1, 1)}, batch)


def one_electrode_batch(size=32):
    # one real electrode at pixel (9.5, 9.5) = cell (2, 2) at stride 4, one padded row that is not real
    return {
        "image": torch.zeros(1, 1, size, size),
        "electrodes": torch.tensor([[[9.5, 9.5], [21.5, 21.5]]]),
        "electrode_sizes": torch.full((1, 2, 2), 4.0),
        "electrode_valid": torch.tensor([[True, False]]),
        "has_electrodes": torch.tensor([True]),
    }


def test_criterion_targets_skip_padding_rows_and_use_min_sigma():
    batch = one_electrode_batch()
    # A 4 x 4 px electrode is about one cell: CenterNet's sigma is below the floor, so sigma = min_sigma.
    # The cell next to the centre holds exp(-1 / (2 sigma^2)): 0.4111 at 0.75, 0.8007 at 1.5.
    for min_sigma, neighbour in ((0.75, math.exp(-1 / 1.125)), (1.5, math.exp(-1 / 4.5))):
        targets = MultiTaskCriterion(min_sigma=min_sigma).targets(batch, (32, 32))
        assert targets["positive"][0, 0].nonzero().tolist() == [[2, 2]]  # not the padded row's (5, 5)
        assert targets["heatmap"][0, 0, 2, 3].item() == pytest.approx(neighbour, rel=1e-5)
        # cell (5, 5), 3 cells from (2, 2) along x and y, only sees the tail exp(-18 / (2 sigma^2));
        # a peak drawn for the padded row would put 1 there
        assert targets["heatmap"][0, 0, 5, 5].item() == pytest.approx(math.exp(-18 / (2 * min_sigma**2)), abs=1e-6)


def test_criterion_explicit_stride_allows_an_image_not_divisible_by_it():
    # 30 x 30 px at stride 4 gives ceil(30 / 4) = 8 cells; 30 is not 8 x an integer stride, so only the
    # given stride can decode it. A perfect heatmap and sizes then cost about 0.
    batch = one_electrode_batch(size=30)
    criterion = MultiTaskCriterion(stride=4)
    targets = criterion.targets(batch, (30, 30))
    heat_logits = torch.where(targets["positive"], torch.tensor(20.0), torch.tensor(-20.0))
    parts = criterion.compute({"heatmap": heat_logits, "size": targets["size"]}, batch)
    assert parts.losses["detection"].item() < 1e-3
    with pytest.raises(ValueError, match="not an integer stride"):
        MultiTaskCriterion().compute({"heatmap": heat_logits}, batch)


def test_segmentation_loss_is_bce_plus_soft_iou_hand_computed():
    from cathx.losses import segmentation_loss

    # p = 0.75, 0.25 for target 1, 0: BCE -ln 0.75 = 0.2877, soft IoU 1 - 1.75 / 2.25 = 0.2222
    logits = torch.tensor([logit(0.75), logit(0.25)]).reshape(1, 1, 1, 2)
    target = torch.tensor([1.0, 0.0]).reshape(1, 1, 1, 2)
    assert segmentation_loss(logits, target).tolist() == pytest.approx([-math.log(0.75) + 1 - 1.75 / 2.25], rel=1e-5)


def test_task_availability_reads_each_task_flag_flattened():
    from cathx.losses import task_availability

    batch = {"has_mask": torch.tensor([[1], [0], [1]]), "has_electrodes": torch.tensor([[0], [1], [1]])}
    both = task_availability(batch)
    assert list(both) == ["segmentation", "detection"]
    assert both["segmentation"].tolist() == [True, False, True]
    assert both["detection"].tolist() == [False, True, True]
    only = task_availability(batch, ("detection",))
    assert list(only) == ["detection"] and only["detection"].dtype == torch.bool
