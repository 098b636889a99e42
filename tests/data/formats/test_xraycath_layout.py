import numpy as np

from cathx.data.formats.xraycath_layout import box_side_from_strength, strength_class, strength_from_box_side


def test_strength_classes_match_cathmtl_edges():
    assert strength_class(np.array([0.3, 0.5, 0.69, 0.7, 1.0])).tolist() == [0, 1, 1, 2, 2]


def test_strength_box_side_round_trip_and_scale():
    strength = np.array([0.2, 0.5, 0.9], np.float32)
    assert box_side_from_strength(np.array([0.5]), 256)[0] == 5.0
    assert box_side_from_strength(np.array([0.5]), 512)[0] == 10.0
    np.testing.assert_allclose(strength_from_box_side(box_side_from_strength(strength, 512), 512), strength)
