"""Synthetic chest generator: determinism, layout, and tip positions that match the labels."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from cathx.data.chest.ranzcr import CSV_FILE, LABELS
from cathx.data.chest.synthetic import (
    SyntheticChestReader, cvc_path, ett_path, generate_study, ngt_path, patient_plan, sample_anatomy,
    write_chest_dataset,
)
from cathx.errors import DataError


@pytest.fixture(scope="module")
def anatomy():
    return sample_anatomy(np.random.default_rng(1), np.random.default_rng(2))


def test_deterministic_by_seed():
    a, b, c = generate_study(5, 3, 64), generate_study(5, 3, 64), generate_study(6, 3, 64)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.image, c.image)
    assert a.image.dtype == np.float32 and 0.0 <= a.image.min() and a.image.max() <= 1.0


def test_workers_do_not_change_output(tmp_path):
    one = write_chest_dataset(tmp_path / "one", 10, size=48, seed=2, workers=1)
    two = write_chest_dataset(tmp_path / "two", 10, size=48, seed=2, workers=2)
    for name in (CSV_FILE, "train_annotations.csv"):
        assert (one / name).read_text() == (two / name).read_text()
    first = sorted((one / "train").iterdir())[0].name
    assert (one / "train" / first).read_bytes() == (two / "train" / first).read_bytes()
    with pytest.raises(DataError, match="--overwrite"):
        write_chest_dataset(one, 2, size=48)


def test_patients_hold_several_studies():
    plan = patient_plan(40, 0)
    counts = np.bincount([p for p, _ in plan])
    assert counts.max() >= 2 and counts.min() >= 1 and len(counts) < 40
    reader = SyntheticChestReader(40, 32, 0)
    assert len(set(reader.patient_ids)) == len(counts)


def test_ett_tip_relative_to_carina(anatomy):
    rng = np.random.default_rng(0)
    ty, scale = anatomy.carina[1], anatomy.scale
    for _ in range(20):
        above = (ty - ett_path(anatomy, "Normal", rng)[-1, 1]) / scale
        assert 0.074 <= above <= 0.131
        above = (ty - ett_path(anatomy, "Borderline", rng)[-1, 1]) / scale
        assert 0.014 <= above <= 0.041 or 0.169 <= above <= 0.211
        tip = ett_path(anatomy, "Abnormal", rng)[-1]
        assert tip[1] > ty or (ty - tip[1]) / scale > 0.26  # in a bronchus or high in the neck


def test_ngt_tip_relative_to_diaphragm(anatomy):
    rng = np.random.default_rng(0)
    for _ in range(20):
        assert ngt_path(anatomy, "Normal", rng)[-1, 1] > anatomy.diaphragm_l + 0.02
        assert ngt_path(anatomy, "Incompletely Imaged", rng)[:, 1].max() > 1.0
        assert ngt_path(anatomy, "Abnormal", rng)[-1, 1] < anatomy.diaphragm_l


def test_cvc_tip_relative_to_carina_and_caj(anatomy):
    rng = np.random.default_rng(0)
    ty, caj, scale = anatomy.carina[1], anatomy.caj_y, anatomy.scale
    for _ in range(20):
        tip = cvc_path(anatomy, "Normal", rng)[-1, 1]
        assert ty - 0.011 * scale <= tip <= caj
        tip = cvc_path(anatomy, "Borderline", rng)[-1, 1]
        assert tip <= ty - 0.059 * scale or tip >= caj + 0.034 * scale


def test_every_status_draws_for_many_anatomies():
    from cathx.data.chest.synthetic import CVC_STATUS, ETT_STATUS, NGT_STATUS, swan_path

    for k in range(300):
        an = sample_anatomy(np.random.default_rng([k, 1]), np.random.default_rng([k, 2]))
        rng = np.random.default_rng(k)
        for status in ETT_STATUS:
            assert len(ett_path(an, status, rng)) >= 2
        for status in NGT_STATUS:
            assert len(ngt_path(an, status, rng)) >= 2
        for status in CVC_STATUS:
            assert len(cvc_path(an, status, rng)) >= 2
        assert len(swan_path(an, rng)) >= 2


def test_labels_and_annotations_agree(tmp_path):
    root = write_chest_dataset(tmp_path, 12, size=64, seed=1, workers=1)
    with (root / CSV_FILE).open(newline="") as handle:
        rows = {r["StudyInstanceUID"]: r for r in csv.DictReader(handle)}
    with (root / "train_annotations.csv").open(newline="") as handle:
        for ann in csv.DictReader(handle):
            assert rows[ann["StudyInstanceUID"]][ann["label"]] == "1"
    labels = np.array([[float(r[n]) for n in LABELS] for r in rows.values()])
    assert labels[:, :3].sum(axis=1).max() <= 1  # at most one ETT
    assert labels.sum() > 0


# --- engine factors (issue 12): line profile, entries, distractors, validated ranges


def _flat_canvas(size: int):
    from cathx.data.chest.synthetic import _Canvas

    an = sample_anatomy(np.random.default_rng(0), np.random.default_rng(0))
    an.angle, an.zoom, an.shift = 0.0, 1.0, (0.0, 0.0)
    return _Canvas(an, size)


@pytest.mark.parametrize("width", [1.5, 3.0, 4.0])
def test_line_profile_has_its_width_and_density(width):
    cv = _flat_canvas(512)
    x = 256.5 / 512  # a vertical line through the centre of pixel column 256
    cv.add_line(np.array([[x, 0.2], [x, 0.8]]), width, 0.3)
    row = cv.image[256]
    # Area under the profile = density x the cylinder's mean chord: (pi / 4) x width; 4x
    # supersampling places the centreline to 1/8 px and undersamples the steep edges a little.
    assert row.sum() == pytest.approx(0.3 * math.pi / 4 * width, rel=0.08)
    assert np.count_nonzero(row > 1e-3) <= math.ceil(width) + 2
    assert (row * np.arange(512)).sum() / row.sum() == pytest.approx(256.0, abs=0.2)


def test_tube_core_is_lighter_than_its_walls():
    cv = _flat_canvas(512)
    x = 256.5 / 512
    cv.add_line(np.array([[x, 0.2], [x, 0.8]]), 8.0, 0.3, core=0.7)
    row = cv.image[256, 250:263]
    centre, wall = row[6], row.max()
    assert centre < wall - 0.03 and row.argmax() != 6  # two dense walls, a radiolucent centre


def test_picc_enters_from_the_arm_at_the_image_edge(anatomy):
    from cathx.data.chest.synthetic import PICC_ENTRIES

    rng = np.random.default_rng(3)
    for entry in PICC_ENTRIES:
        path = cvc_path(anatomy, "Normal", rng, entry)
        start_x = path[0, 0]
        assert start_x < 0.0 if entry == "right_arm" else start_x > 1.0
        assert anatomy.carina[1] - 0.011 * anatomy.scale <= path[-1, 1] <= anatomy.caj_y


def test_distractors_switch_off_and_leave_labels_alone():
    from cathx.data.chest.synthetic import ChestSynthConfig

    plain = ChestSynthConfig(ecg_prob=0.0, text_prob=0.0, core_prob=0.0, picc_prob=0.0)
    busy = ChestSynthConfig(ecg_prob=1.0, text_prob=1.0, ecg_leads=(4, 4), ecg_cross_prob=1.0)
    for index in range(4):
        a, b = generate_study(3, index, 96, plain), generate_study(3, index, 96, busy)
        np.testing.assert_array_equal(a.labels, b.labels)
    # Burned-in text reaches the top of the grey scale in a corner; the plain study's corners do not.
    corners = lambda img: max(img[:24, :24].max(), img[:24, -24:].max(), img[-24:, :24].max(), img[-24:, -24:].max())
    texts = [corners(generate_study(3, i, 96, ChestSynthConfig(text_prob=1.0)).image) for i in range(3)]
    assert min(texts) >= 0.75


@pytest.mark.parametrize(("changes", "message"), [
    ({"line_width": (0.2, 4.0)}, "synth.line_width: must be (min, max) with 0.5 <= min <= max <= 10, got [0.2, 4.0]"),
    ({"line_width": (4.0, 1.5)}, "synth.line_width"),
    ({"core_prob": 1.5}, "synth.core_prob: must be between 0 and 1, got 1.5"),
    ({"ecg_leads": (0, 3)}, "synth.ecg_leads"),
    ({"noise": -0.1}, "synth.noise: must be between 0 and 0.2"),
    ({"ett_status": (0.5, 0.5, 0.5)}, "synth.ett_status: must be 3 non-negative shares adding up to 1"),
    ({"jpeg_quality": 0}, "synth.jpeg_quality"),
    ({"implant_prob": 2.0}, "synth.implant_prob: must be between 0 and 1, got 2.0"),
    ({"rib_cortex": (0.2, 0.1)}, "synth.rib_cortex: must be (min, max) with 0 <= min <= max <= 0.5"),
    ({"edge_enhance": (0.0, 5.0)}, "synth.edge_enhance"),
    ({"free_line_prob": -0.1}, "synth.free_line_prob: must be between 0 and 1, got -0.1"),
])
def test_out_of_range_factor_is_one_line_config_error(changes, message):
    from cathx.data.chest.synthetic import ChestSynthConfig
    from cathx.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        ChestSynthConfig(**changes)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_cls_config_reaches_the_engine(tmp_path, run_cli):
    config = tmp_path / "c.yaml"
    config.write_text("data: {synth: {line_width: [0.1, 4]}}\n")
    result = run_cli("cls", "train", "--config", config, "--out", tmp_path / "run")
    assert result.exit_code == 2 and "line_width" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cvc_tip_matches_its_label_from_every_entry():
    from cathx.data.chest.synthetic import _CVC_ENTRIES, PICC_ENTRIES

    for k in range(60):
        an = sample_anatomy(np.random.default_rng([k, 1]), np.random.default_rng([k, 2]))
        rng = np.random.default_rng(k)
        ty, caj, scale = an.carina[1], an.caj_y, an.scale
        for entry in (*_CVC_ENTRIES, *PICC_ENTRIES):
            tip = cvc_path(an, "Normal", rng, entry)[-1, 1]
            assert ty - 0.011 * scale <= tip <= caj + 1e-9, entry
            tip = cvc_path(an, "Borderline", rng, entry)[-1, 1]
            assert an.apex + 0.15 <= tip <= ty - 0.059 * scale or caj + 0.034 * scale <= tip <= caj + 0.066 * scale, entry


def test_variety_off_gives_back_the_fixed_template_and_leaves_labels_alone():
    from cathx.data.chest.synthetic import VARIETY_OFF, ChestSynthConfig

    template = ChestSynthConfig(**VARIETY_OFF)
    busy = ChestSynthConfig(skin_fold_prob=1.0, pathology_prob=1.0, implant_prob=1.0, sternal_wire_prob=1.0,
                            drain_prob=1.0, edge_enhance_prob=1.0, tone_curve_prob=1.0, noise_grain_prob=1.0,
                            rib_cortex=(0.2, 0.2), spine_detail=(0.2, 0.2), line_density=VARIETY_OFF["line_density"])
    for index in range(3):
        a, b = generate_study(5, index, 96, template), generate_study(5, index, 96, busy)
        np.testing.assert_array_equal(a.labels, b.labels)  # the variety draws from a stream of its own
        assert [label for label, _ in a.lines] == [label for label, _ in b.lines]
        for (_, pa), (_, pb) in zip(a.lines, b.lines):
            np.testing.assert_array_equal(pa, pb)
        assert np.abs(a.image - b.image).mean() > 0.01  # and it shows


def test_free_line_adds_one_labelled_abnormal_cvc_and_leaves_the_rest_of_the_study_alone():
    from cathx.data.chest.synthetic import ChestSynthConfig

    for index in range(4):
        plain = generate_study(6, index, 128, ChestSynthConfig())
        free = generate_study(6, index, 128, ChestSynthConfig(free_line_prob=1.0))
        assert len(free.lines) == len(plain.lines) + 1
        for (label_a, a), (label_b, b) in zip(plain.lines, free.lines):  # the others, point for point
            assert label_a == label_b
            np.testing.assert_array_equal(a, b)
        label, points = free.lines[-1]
        assert label == "CVC - Abnormal" and free.labels[LABELS.index(label)] == 1.0
        assert len(points) >= 4  # at least 0.2 of the image: 25 px at 128 px, a point every 3 px
        on_line = np.round(points).astype(int).clip(0, 127)
        assert (free.image - plain.image)[on_line[:, 1], on_line[:, 0]].mean() > 0.03  # drawn where labelled


def test_free_line_enters_from_an_edge_is_smooth_and_keeps_its_tip_out_of_the_svc():
    from cathx.data.chest.synthetic import free_line_path

    for k in range(40):
        an = sample_anatomy(np.random.default_rng([k, 1]), np.random.default_rng([k, 2]))
        path = free_line_path(an, np.random.default_rng(k))
        assert path is not None
        assert min(path[0].min(), 1.0 - path[0].max()) <= 0.0  # starts on or beyond an edge
        tip = path[-1]
        assert not (abs(tip[0] - an.svc_x) < 0.05 and an.carina[1] - 0.05 * an.scale < tip[1] < an.caj_y + 0.05 * an.scale)
        steps = np.diff(path, axis=0)
        turn = np.arccos(np.clip((steps[1:] * steps[:-1]).sum(1) / (np.linalg.norm(steps[1:], axis=1)
                                                                    * np.linalg.norm(steps[:-1], axis=1) + 1e-12), -1, 1))
        assert turn.max() < math.radians(60)  # no kinks between neighbouring samples


def test_unlabelled_implant_adds_density_but_no_line():
    from cathx.data.chest.synthetic import VARIETY_OFF, ChestSynthConfig

    quiet = {**VARIETY_OFF, "ecg_prob": 0.0, "text_prob": 0.0, "ett_prob": 0.0, "ngt_prob": 0.0, "cvc_prob": 0.0,
             "swan_prob": 0.0}
    plain = generate_study(9, 0, 128, ChestSynthConfig(**quiet))
    implant = generate_study(9, 0, 128, ChestSynthConfig(**{**quiet, "implant_prob": 1.0}))
    assert plain.lines == [] and implant.lines == [] and not implant.labels.any()
    assert implant.image.sum() > plain.image.sum() + 20  # the can (0.5-0.8 dense) and the leads


def test_tone_curve_is_monotone_through_the_corners():
    from cathx.data.chest.synthetic import tone_curve

    x = np.linspace(0, 1, 11, dtype=np.float32)
    y = tone_curve(x, 0.5, 6.0)
    assert y[0] == pytest.approx(0.0, abs=1e-6) and y[-1] == pytest.approx(1.0, abs=1e-6)
    assert (np.diff(y) > 0).all() and y[5] == pytest.approx(0.5, abs=1e-6)  # symmetric about its centre


def test_overwrite_never_replaces_a_set_it_did_not_write_and_a_killed_run_keeps_the_old_set(tmp_path, monkeypatch):
    """A folder with train.csv but no synthetic card (a real RANZCR set) is refused even with
    overwrite; a run that fails midway leaves the earlier synthetic set as it was."""
    from cathx.data.chest import synthetic

    real = tmp_path / "ranzcr"
    real.mkdir()
    (real / CSV_FILE).write_text("StudyInstanceUID,ETT - Abnormal\n1.2.3,0\n")
    with pytest.raises(DataError, match=r"ranzcr: holds files that are not a cathx synthetic chest set"):
        write_chest_dataset(real, 2, size=48, overwrite=True)
    assert (real / CSV_FILE).read_text().startswith("StudyInstanceUID,ETT - Abnormal\n1.2.3")

    one = write_chest_dataset(tmp_path / "one", 4, size=48, seed=2, workers=1)
    before = (one / CSV_FILE).read_text()

    def broken(job):
        raise RuntimeError("killed")

    monkeypatch.setattr(synthetic, "_render_job", broken)
    with pytest.raises(RuntimeError, match="killed"):
        write_chest_dataset(one, 6, size=48, seed=3, workers=1, overwrite=True)
    assert (one / CSV_FILE).read_text() == before and len(list((one / "train").iterdir())) == 4
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial folder left
