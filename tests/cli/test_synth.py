"""`cathx synth`: writes a dataset and a preview; bad input is one line, exit 2, nothing written."""

from __future__ import annotations

import cv2

from cathx.data.formats import xraycath_layout as layout


def test_synth_writes_dataset_and_preview(run_cli, tmp_path):
    out, preview = tmp_path / "ds", tmp_path / "preview.png"
    result = run_cli(
        "synth",
        out,
        "--n",
        5,
        "--size",
        64,
        "--sequences",
        1,
        "--frames",
        2,
        "--workers",
        1,
        "--preview",
        preview,
        "--catheter-types",
        "cs_decapolar,lasso",
    )
    assert result.exit_code == 0, result.stderr
    assert "wrote 5 frames" in result.stdout
    assert len(list((out / layout.IMAGES_DIR).glob("*.png"))) == 5
    sheet = cv2.imread(str(preview))
    assert sheet is not None and sheet.shape[1] > 256
    assert "lasso" in (out / "dataset_card.md").read_text()


def _check_error(result, message, tmp_path, expected_entries=()):
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(expected_entries)


def test_synth_rejects_bad_n(run_cli, tmp_path):
    _check_error(
        run_cli("synth", tmp_path / "ds", "--n", 0), "--n must be a positive number of frames", tmp_path
    )


def test_synth_rejects_small_size(run_cli, tmp_path):
    _check_error(
        run_cli("synth", tmp_path / "ds", "--n", 2, "--size", 48), "--size must be at least 64", tmp_path
    )


def test_synth_rejects_unknown_catheter_type(run_cli, tmp_path):
    result = run_cli("synth", tmp_path / "ds", "--n", 2, "--catheter-types", "cs_decapolar,balloon")
    _check_error(result, "unknown catheter type 'balloon'; choose from cs_decapolar", tmp_path)


def test_synth_rejects_non_empty_out(run_cli, tmp_path):
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "notes.txt").write_text("keep")
    result = run_cli("synth", tmp_path / "ds", "--n", 2, "--size", 64)
    _check_error(result, "folder is not empty; choose another OUT or pass --overwrite", tmp_path, ["ds"])
    assert (tmp_path / "ds" / "notes.txt").read_text() == "keep"


def test_synth_rejects_unwritable_out(run_cli, tmp_path):
    (tmp_path / "file").write_text("x")
    result = run_cli("synth", tmp_path / "file" / "ds", "--n", 2, "--size", 64)
    _check_error(result, "cannot write here", tmp_path, ["file"])


def test_synth_rejects_bad_preview_name(run_cli, tmp_path):
    result = run_cli("synth", tmp_path / "ds", "--n", 2, "--size", 64, "--preview", tmp_path / "p.jpg")
    _check_error(result, "the preview must be a .png file", tmp_path)


def test_synth_reads_a_config_file(run_cli, tmp_path):
    config = tmp_path / "synth.yaml"
    config.write_text("catheter_types: [lasso]\ncollimation_probability: 0.0\nempty_probability: 0.0\n")
    out = tmp_path / "ds"
    result = run_cli("synth", out, "--n", 2, "--size", 64, "--workers", 1, "--config", config)
    assert result.exit_code == 0, result.stderr
    card = (out / "dataset_card.md").read_text()
    assert "catheter types: lasso" in card


def test_synth_rejects_a_bad_config_key(run_cli, tmp_path):
    config = tmp_path / "synth.yaml"
    config.write_text("dose_level: 3\n")
    result = run_cli("synth", tmp_path / "ds", "--n", 2, "--config", config)
    _check_error(result, "unknown key 'dose_level'", tmp_path, ["synth.yaml"])


def test_synth_rejects_an_unknown_engine(run_cli, tmp_path):
    _check_error(run_cli("synth", tmp_path / "ds", "--n", 2, "--engine", "spark"),
                 "--engine 'spark': choose from local, ray", tmp_path)


def test_synth_rejects_an_address_without_ray(run_cli, tmp_path):
    _check_error(run_cli("synth", tmp_path / "ds", "--n", 2, "--address", "auto"),
                 "--address auto: only used with --engine ray", tmp_path)


def test_synth_names_an_unreachable_ray_address(run_cli, tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    result = run_cli("synth", tmp_path / "ds", "--n", 2, "--size", 64, "--engine", "ray", "--address", "auto")
    _check_error(result, "--address auto: could not connect to Ray (Could not find any running Ray instance", tmp_path)


def test_synth_without_workers_uses_one_process_per_cpu(run_cli, tmp_path, monkeypatch):
    """No --workers: cathx.system.render_workers decides (one per CPU, at most 2), as training's
    own generation does, instead of a literal 2 that a 1-CPU machine would oversubscribe."""
    import cathx.data.synthetic as synthetic
    import cathx.system

    seen = {}

    def fake_write_dataset(out, n, **kwargs):
        seen["workers"] = kwargs["workers"]
        return out

    monkeypatch.setattr(synthetic, "write_dataset", fake_write_dataset)
    monkeypatch.setattr(cathx.system, "usable_cpus", lambda: 1)
    run_cli("synth", tmp_path / "one", "--n", 2, "--size", 64)
    assert seen["workers"] == 1
    monkeypatch.setattr(cathx.system, "usable_cpus", lambda: 8)
    run_cli("synth", tmp_path / "eight", "--n", 2, "--size", 64)
    assert seen["workers"] == 2
    run_cli("synth", tmp_path / "chosen", "--n", 2, "--size", 64, "--workers", 3)
    assert seen["workers"] == 3
