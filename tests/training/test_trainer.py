"""The trainer's cluster layout (torchrun, SLURM, config) and a two-node torchrun run on localhost."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cathx.training.config import TrainerConfig
from cathx.training.trainer import cluster_layout

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from test_training_run import SCRIPT, _env  # noqa: E402

LAUNCHER_VARIABLES = ("TORCHELASTIC_RUN_ID", "RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "SLURM_NTASKS",
                      "SLURM_JOB_NAME", "SLURM_NNODES", "SLURM_PROCID", "SLURM_LOCALID", "SLURM_NODEID",
                      "SLURM_NTASKS_PER_NODE")


def _parameters(state: dict) -> dict:
    """Trainable weights (BatchNorm running statistics are per process under DDP)."""
    return {k: v for k, v in state["model"].items() if "running_" not in k and "num_batches" not in k}


@pytest.fixture
def clean_env(monkeypatch):
    for name in LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_layout_comes_from_the_config_without_a_launcher(clean_env):
    layout = cluster_layout(TrainerConfig(devices=2, num_nodes=3))
    assert (layout.devices, layout.num_nodes, layout.world_size, layout.launcher) == (2, 3, 6, None)


def test_layout_comes_from_torchrun_over_the_config(clean_env):
    for name, value in {"TORCHELASTIC_RUN_ID": "x", "RANK": "9", "WORLD_SIZE": "16", "LOCAL_WORLD_SIZE": "8"}.items():
        clean_env.setenv(name, value)
    layout = cluster_layout(TrainerConfig(devices=1, num_nodes=1))
    assert (layout.devices, layout.num_nodes, layout.global_rank, layout.launcher) == (8, 2, 9, "torchrun")


def test_layout_comes_from_srun_over_the_config(clean_env):
    for name, value in {"SLURM_NTASKS": "16", "SLURM_JOB_NAME": "cathx", "SLURM_NNODES": "2", "SLURM_PROCID": "11",
                        "SLURM_LOCALID": "3", "SLURM_NODEID": "1", "SLURM_NTASKS_PER_NODE": "8"}.items():
        clean_env.setenv(name, value)
    layout = cluster_layout(TrainerConfig())
    assert (layout.devices, layout.num_nodes, layout.global_rank, layout.launcher) == (8, 2, 11, "slurm")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_two_torchrun_nodes_train_the_same_weights_and_kpi_bank(tmp_path):
    """Two torchrun agents of one process each, as two nodes joining by c10d rendezvous on loopback.

    Also the project's only DDP test: a single-node 2-process run checked exactly the same state."""
    port = _free_port()
    agents = []
    for node in (0, 1):
        command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
                   "--node-rank", str(node), "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}",
                   "--rdzv-id", "cathx-test", "--rdzv-conf", f"is_host={int(node == 0)}", "--local-addr", "127.0.0.1",
                   "--max-restarts", "0", str(SCRIPT), str(tmp_path / "run"), "--dump", str(tmp_path / "node.pt")]
        agents.append(subprocess.Popen(command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True, start_new_session=True))
    try:
        logs = [agent.communicate(timeout=120)[0] for agent in agents]
    finally:
        for agent in agents:
            if agent.poll() is None:
                agent.kill()
    assert [agent.returncode for agent in agents] == [0, 0], logs[0][-1500:] + logs[1][-1500:]
    first, second = (torch.load(tmp_path / f"node.pt.rank{rank}", map_location="cpu", weights_only=True)
                     for rank in (0, 1))
    assert first["world_size"] == second["world_size"] == 2 and first["num_nodes"] == 2
    assert first["global_step"] == second["global_step"] == 4  # 8 samples / (2 ranks x batch 2), 2 epochs
    assert first["prioritizer"]["step"] == second["prioritizer"]["step"] == 4
    for key, value in _parameters(first).items():
        torch.testing.assert_close(_parameters(second)[key], value, rtol=0, atol=0, msg=key)
    for key in ("kappa_bar", "bank", "bank_seen"):
        for task, value in first["prioritizer"][key].items():
            torch.testing.assert_close(second["prioritizer"][key][task], value, rtol=0, atol=0)
    assert all(bool(seen.all()) for seen in first["prioritizer"]["bank_seen"].values())  # gathered from both
    assert first["checkpoints_written"] > 0 and second["checkpoints_written"] == 0  # rank 0 writes alone
    assert (tmp_path / "run" / "stages" / "multitask" / "done.json").is_file()


def test_a_stage_logs_lightnings_device_lines_but_not_its_cloud_advert(clean_env, tmp_path):
    import logging

    from cathx.training.trainer import build_trainer

    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    handler = Collect(level=logging.INFO)
    logging.getLogger("lightning.pytorch").addHandler(handler)
    try:
        trainer = build_trainer(TrainerConfig(), tmp_path, "stage", max_epochs=1)
    finally:
        logging.getLogger("lightning.pytorch").removeHandler(handler)
    assert any(message.startswith("GPU available") for message in records), records
    assert not any("Tip" in message or "litlogger" in message for message in records), records
    assert not any("100% of the batches" in message for message in records), records
    assert trainer.limit_val_batches == 1.0  # every validation batch, as before


def test_checkpoint_every_minutes_adds_a_clock_checkpoint(tmp_path: Path) -> None:
    """The default trainer writes last.ckpt every 10 minutes of training besides the step and epoch
    ones; 0 turns the clock off."""
    from datetime import timedelta

    from lightning.pytorch.callbacks import ModelCheckpoint

    from cathx.training.trainer import build_trainer

    def intervals(trainer) -> list:
        return [c._train_time_interval for c in trainer.callbacks
                if isinstance(c, ModelCheckpoint) and c._train_time_interval is not None]

    assert intervals(build_trainer(TrainerConfig(), tmp_path, "a", max_epochs=1)) == [timedelta(minutes=10)]
    assert intervals(build_trainer(TrainerConfig(checkpoint_every_minutes=0), tmp_path, "b", max_epochs=1)) == []


def test_a_resumed_stage_counts_the_time_its_checkpoint_spent(tmp_path: Path) -> None:
    """A stage stopped after 400 s of a 5-minute budget, resumed with 10 minutes, has 200 s left:
    the budget is the stage's training time in all (equal-budget benchmarks resume so). The timer
    keeps Lightning's Timer's state key, so runs saved with Lightning's own timer resume alike. One
    timer only, and none without a budget."""
    from lightning.pytorch.callbacks import Timer

    from cathx.training.trainer import build_trainer

    trainer = build_trainer(TrainerConfig(), tmp_path, "a", max_epochs=1, max_minutes=10)
    timers = [c for c in trainer.callbacks if isinstance(c, Timer)]
    assert len(timers) == 1 and timers[0].state_key == Timer(duration="00:00:01:00").state_key
    stored = {"time_elapsed": {"train": 400.0, "validate": 10.0, "test": 0.0, "predict": 0.0, "sanity_check": 0.0}}
    timers[0].load_state_dict(stored)
    assert timers[0].time_remaining("train") == pytest.approx(200.0)
    assert not [c for c in build_trainer(TrainerConfig(), tmp_path, "b", max_epochs=1).callbacks if isinstance(c, Timer)]


def test_clock_checkpoint_saves_within_an_epoch(tmp_path: Path) -> None:
    """With a 30 ms interval and 60 ms steps, last.ckpt is written during the epoch, not only at its end."""
    import time

    import lightning as L

    from cathx.training.trainer import checkpoint_callbacks

    saved_at: list[int] = []

    class Slow(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def training_step(self, batch, batch_idx):
            time.sleep(0.06)
            return self.layer(batch[0]).sum()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

        def on_save_checkpoint(self, checkpoint) -> None:
            saved_at.append(self.trainer.global_step)

    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(8, 2)), batch_size=1)
    clock_only = checkpoint_callbacks(tmp_path, every_n_steps=0, monitor_best=False, every_minutes=0.0005)[1:]
    trainer = L.Trainer(max_epochs=1, callbacks=clock_only, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu")
    trainer.fit(Slow(), data)
    assert (tmp_path / "last.ckpt").is_file()
    assert any(step < 8 for step in saved_at), saved_at


def test_negative_checkpoint_minutes_is_an_error() -> None:
    from cathx.errors import ConfigError
    from cathx.training.config import train_config_from_dict

    with pytest.raises(ConfigError, match="checkpoint_every_minutes"):
        train_config_from_dict({"trainer": {"checkpoint_every_minutes": -1}})


def test_a_moved_run_folder_keeps_its_best_score(tmp_path: Path) -> None:
    """Resumed from another path (another machine), best.ckpt's callback keeps the best score, so a
    worse validation does not replace the best weights (Lightning's forgets it when dirpath differs)."""
    from cathx.training.trainer import checkpoint_callbacks

    before = checkpoint_callbacks(tmp_path / "a" / "checkpoints", 0, monitor_best=True)[-1]
    before.best_model_score = torch.tensor(0.61)
    before.best_model_path = str(tmp_path / "a" / "checkpoints" / "best.ckpt")
    after = checkpoint_callbacks(tmp_path / "b" / "checkpoints", 0, monitor_best=True)[-1]
    after.load_state_dict(before.state_dict())
    assert float(after.best_model_score) == pytest.approx(0.61)
    assert after.best_model_path == str((tmp_path / "b" / "checkpoints" / "best.ckpt").resolve())
