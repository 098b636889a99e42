"""The pure parts of benchmarks/time_to_accuracy.py (the script itself trains for minutes)."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "time_to_accuracy.py"
spec = importlib.util.spec_from_file_location("time_to_accuracy", SCRIPT)
tta = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tta)


def test_overrides_set_dotted_keys_without_touching_the_recipe():
    recipe = {"trainer": {"threads": 2}, "data": {"size": 256}}
    changed = tta.apply_overrides(recipe, {"trainer.precision": "32-true", "loss.focal_normalisation": "batch"})
    assert changed == {"trainer": {"threads": 2, "precision": "32-true"}, "data": {"size": 256},
                       "loss": {"focal_normalisation": "batch"}}
    assert recipe == {"trainer": {"threads": 2}, "data": {"size": 256}}


def test_time_to_target_is_the_first_snapshot_meeting_both_targets():
    snapshots = [{"minutes": 7.5, "mean_j": 0.72, "ap50": 0.61},
                 {"minutes": 2.5, "mean_j": 0.75, "ap50": 0.40},  # J met, AP50 not
                 {"minutes": 5.0, "mean_j": 0.70, "ap50": 0.60},  # both exactly at the target
                 {"minutes": 10.0, "mean_j": 0.80, "ap50": 0.70}]
    assert tta.first_reaching(snapshots) == 5.0
    assert tta.first_reaching(snapshots[:2]) == 7.5
    assert tta.first_reaching([{"minutes": 1.0, "mean_j": 0.9, "ap50": 0.59}]) is None


def test_every_variant_is_a_valid_config():
    from cathx.config import read_yaml_mapping
    from cathx.training.config import train_config_from_dict

    recipe = read_yaml_mapping(SCRIPT.parents[1] / "configs" / "demo.yaml")
    for name, overrides in tta.VARIANTS.items():
        train_config_from_dict(tta.apply_overrides(recipe, overrides), where=name)


def test_snapshots_save_the_weights_when_training_ends(tmp_path, monkeypatch):
    """A snapshot is also taken when training ends, not only every ``every_minutes``: without it
    the last one could lie an interval before the clock stopped training."""
    import time

    saved = []
    snapshots = tta.Snapshots(tmp_path, started=time.monotonic() - 14.9 * 60, every_minutes=100.0)
    monkeypatch.setattr(snapshots, "save", lambda module, minutes, step: saved.append((module, minutes, step)))

    class Trainer:  # no WeightEMA callback: the module itself is the averaged one
        callbacks = ()
        global_step = 2800

    module = object()
    snapshots.callback.on_train_batch_end(Trainer(), module)
    assert saved == []  # the next periodic snapshot is 100 minutes away
    snapshots.callback.on_train_end(Trainer(), module)
    ((kept, minutes, step),) = saved
    assert kept is module and step == 2800 and 14.9 <= minutes < 15.5


def test_the_value_at_the_budget_is_the_latest_snapshot_within_it():
    snapshots = [{"minutes": 12.5, "mean_j": 0.50}, {"minutes": 15.02, "mean_j": 0.51},  # due at 15, a step late
                 {"minutes": 16.3, "mean_j": 0.52}]  # training's end, past the budget
    assert tta.value_at_budget(snapshots, 15.0)["mean_j"] == 0.51
    assert tta.value_at_budget(snapshots, 20.0)["mean_j"] == 0.52
    assert tta.value_at_budget(snapshots, 10.0) is None
