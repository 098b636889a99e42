"""A tiny seeded training run, used by the resume (SIGKILL) and DDP tests as a subprocess.

usage: tiny_run.py OUT [--resume] [--hang-at-step K] [--dump FILE]
--hang-at-step K: once K optimizer steps are done (their checkpoint written), write OUT/hanging
and sleep, waiting for the test to SIGKILL the process.
--dump FILE: after training, torch.save the final weights and prioritizer state (FILE.rank<r>).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import lightning as L  # noqa: E402
import torch  # noqa: E402

from cathx.data.synthetic.sequence import SyntheticReader  # noqa: E402
from cathx.training.config import train_config_from_dict  # noqa: E402
from cathx.training.run import train  # noqa: E402

TINY = {
    "seed": 3,
    "model": {"encoder": "resnet18", "latent_channels": 16, "decoder_channels": [8, 8], "head_channels": 8},
    "data": {"size": 64, "batch_size": 2},
    "stages": [{"name": "multitask", "epochs": 2}],
    "prioritization": {"topk_end": 0.5, "sample_alpha": 0.5},
    "trainer": {"progress_bar": False, "log_every_n_steps": 1, "checkpoint_every_n_steps": 1, "threads": 1},
}


class Hang(L.Callback):
    def __init__(self, step: int, marker: Path) -> None:
        self.step = step
        self.marker = marker

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            self.marker.write_text(str(trainer.global_step))
            time.sleep(600)


class Dump(L.Callback):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.start_step = -1

    def on_train_start(self, trainer, module) -> None:
        self.start_step = trainer.global_step

    def on_train_end(self, trainer, module) -> None:
        state = {"model": {k: v.detach().clone() for k, v in module.model.state_dict().items()},
                 "prioritizer": module.prioritizer.state_dict(), "global_step": trainer.global_step,
                 "start_step": self.start_step, "world_size": trainer.world_size,
                 "num_nodes": trainer.num_nodes, "checkpoints_written": trainer.strategy.checkpoint_io.saved}
        torch.save(state, f"{self.path}.rank{trainer.global_rank}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--hang-at-step", type=int, default=-1)
    parser.add_argument("--dump", type=Path)
    parser.add_argument("--samples", type=int, default=8)
    args = parser.parse_args(argv)
    callbacks: list[L.Callback] = []
    if args.hang_at_step >= 0:
        callbacks.append(Hang(args.hang_at_step, args.out / "hanging"))
    if args.dump:
        callbacks.append(Dump(args.dump))
    cfg = train_config_from_dict(TINY)
    train(cfg, out=args.out, resume=args.resume, train_reader=SyntheticReader(args.samples, 64, 0),
          callbacks=callbacks)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
