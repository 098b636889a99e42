"""LightningDataModule over cathx readers, with a data order that resumes exactly.

Every training batch is a pure function of (seed, epoch, position): the permutation of an epoch
is drawn from ``seed + epoch``, each sample's augmentation is seeded from (seed, epoch, index),
and on a mid-epoch resume the sampler skips the batches already consumed (global step minus the
steps of finished epochs). So a run killed at any step and resumed sees the same batches as an
uninterrupted one, on one process or on every DDP rank.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from cathx.structures import Sample
from cathx.training.config import DataConfig

log = logging.getLogger(__name__)


class ConcatReader(Sequence[Sample]):
    """Several readers seen as one Sequence[Sample] (e.g. segmentation pretraining sources)."""

    def __init__(self, readers: Sequence[Sequence[Sample]], limit: int = 0) -> None:
        self.readers = list(readers)
        self.offsets = [0]
        for reader in self.readers:
            self.offsets.append(self.offsets[-1] + len(reader))
        self.length = self.offsets[-1] if limit <= 0 else min(limit, self.offsets[-1])
        self.name = "+".join(str(getattr(r, "name", type(r).__name__)) for r in self.readers)
        self.problems = [p for r in self.readers for p in getattr(r, "problems", [])]

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Sample:  # type: ignore[override]
        if not 0 <= index < self.length:
            raise IndexError(index)
        for position, reader in enumerate(self.readers):
            if index < self.offsets[position + 1]:
                return reader[index - self.offsets[position]]
        raise IndexError(index)


class SeededDataset(Dataset):
    """Wraps a SampleDataset so that item ``(index, epoch)`` has a reproducible augmentation."""

    def __init__(self, dataset: Dataset, transform: Any, seed: int) -> None:
        self.dataset = dataset
        self.transform = transform
        self.seed = seed

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, torch.Tensor]:
        index, epoch = key if isinstance(key, tuple) else (key, 0)
        if self.transform is not None and hasattr(self.transform, "set_random_seed"):
            self.transform.set_random_seed((self.seed * 1_000_003 + epoch * 7_919 + index) % (2**32))
        return self.dataset[index]


def epoch_permutation(n: int, seed: int, epoch: int, shuffle: bool = True) -> list[int]:
    """Order of the dataset in ``epoch`` (depends only on seed and epoch)."""
    if not shuffle:
        return list(range(n))
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n, generator=generator).tolist()


def rank_batches(order: list[int], batch_size: int, rank: int, world: int) -> list[list[int]]:
    """Full batches of this rank: the order is cut into world * batch_size blocks (the tail dropped),
    and rank r takes the r-th batch_size slice of every block."""
    block = batch_size * world
    batches = []
    for start in range(0, len(order) - block + 1, block):
        chunk = order[start : start + block]
        batches.append(chunk[rank * batch_size : (rank + 1) * batch_size])
    return batches


@dataclass(eq=False)
class ResumableBatchSampler(Sampler[list[tuple[int, int]]]):
    """Batches of (index, epoch) keys; resumes mid-epoch from the trainer's progress.

    progress: callable returning (epoch, global_step) of the running trainer; at ``__iter__`` the
    batches already stepped in this epoch (global_step - epoch * len(self)) are skipped.
    """

    size: int
    batch_size: int
    seed: int
    rank: int = 0
    world: int = 1
    progress: Callable[[], tuple[int, int]] | None = None
    shuffle: bool = True
    epoch: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.size < self.batch_size * self.world:
            raise ValueError(f"training set has {self.size} samples, fewer than one batch "
                             f"({self.batch_size} x {self.world})")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size // (self.batch_size * self.world)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        epoch, skip = self.epoch, 0
        if self.progress is not None:
            epoch, global_step = self.progress()
            skip = max(0, global_step - epoch * len(self))
        batches = rank_batches(epoch_permutation(self.size, self.seed, epoch, self.shuffle), self.batch_size,
                               self.rank, self.world)
        for batch in batches[skip:]:
            yield [(index, epoch) for index in batch]


class ResumableDataLoader(DataLoader):
    """A DataLoader Lightning treats as resumable: its position is derived from the trainer's
    global step (see ResumableBatchSampler), so its own state is only a record for the checkpoint."""

    def state_dict(self) -> dict[str, int]:
        sampler = self.batch_sampler
        return {"seed": getattr(sampler, "seed", 0), "size": getattr(sampler, "size", 0)}

    def load_state_dict(self, state: dict[str, int]) -> None:
        sampler = self.batch_sampler
        if state.get("size") not in (None, getattr(sampler, "size", None)):
            log.warning("resuming with a training set of %s samples, checkpoint had %s", sampler.size, state["size"])


def open_sources(sources: Sequence[str | Path], split: str, limit: int = 0) -> ConcatReader:
    """Open each source's ``split`` with cathx.data.formats.open_dataset and concatenate them."""
    from cathx.data.formats import open_dataset

    from cathx.data.formats.summary import problem_report

    readers = [open_dataset(source, split=split) for source in sources]
    for source, reader in zip(sources, readers):
        for line in problem_report(getattr(reader, "problems", []), f"{source} (split {split})"):
            log.warning("%s", line)
    return ConcatReader(readers, limit=limit)


class CathxDataModule(L.LightningDataModule):
    """Train / val loaders over one or more dataset paths (or ready readers, for tests).

    sources: dataset paths; train_reader / val_reader: Sequence[Sample] used instead when given.
    """

    def __init__(self, cfg: DataConfig, sources: Sequence[str | Path] = (), seed: int = 0,
                 train_reader: Sequence[Sample] | None = None, val_reader: Sequence[Sample] | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.sources = list(sources)
        self.seed = seed
        self.train_reader = train_reader
        self.val_reader = val_reader
        self._train_set: SeededDataset | None = None
        self._val_set: Dataset | None = None

    # readers are opened lazily and once: the training set size is needed to size the KPI bank
    def train_samples(self) -> Sequence[Sample]:
        if self.train_reader is None:
            self.train_reader = open_sources(self.sources, self.cfg.train_split, self.cfg.limit_train)
        elif self.cfg.limit_train > 0:
            self.train_reader = ConcatReader([self.train_reader], limit=self.cfg.limit_train)
        return self.train_reader

    def val_samples(self) -> Sequence[Sample]:
        if self.val_reader is None:
            self.val_reader = open_sources(self.sources[:1], self.cfg.val_split, self.cfg.limit_val)
        return self.val_reader

    def setup(self, stage: str | None = None) -> None:
        from cathx.data.datasets import SampleDataset
        from cathx.data.transforms import build_transforms

        if self._train_set is None:
            transform = build_transforms(self.cfg.size, train=True, scale=(1.0 - self.cfg.scale, 1.0 + self.cfg.scale),
                                         rotate=self.cfg.rotate, flip=0.5 if self.cfg.flip else 0.0,
                                         crop=self.cfg.crop, intensity=self.cfg.intensity,
                                         noise=self.cfg.noise)
            dataset = SampleDataset(self.train_samples(), transform=transform, max_electrodes=self.cfg.max_electrodes)
            self._train_set = SeededDataset(dataset, transform, self.seed)
        if self._val_set is None and len(self.val_samples()):
            transform = build_transforms(self.cfg.size, train=False)
            self._val_set = SampleDataset(self.val_samples(), transform=transform,
                                          max_electrodes=self.cfg.max_electrodes)

    def _progress(self) -> tuple[int, int]:
        trainer = self.trainer
        return (0, 0) if trainer is None else (int(trainer.current_epoch), int(trainer.global_step))

    def train_dataloader(self) -> DataLoader:
        self.setup("fit")
        assert self._train_set is not None
        trainer = self.trainer
        rank = trainer.global_rank if trainer is not None else 0
        world = trainer.world_size if trainer is not None else 1
        sampler = ResumableBatchSampler(len(self._train_set), self.cfg.batch_size, self.seed, rank, world,
                                        progress=self._progress)
        return ResumableDataLoader(self._train_set, batch_sampler=sampler, num_workers=self.cfg.num_workers,
                                   persistent_workers=False)

    def val_dataloader(self) -> DataLoader | list:
        self.setup("fit")
        if self._val_set is None:
            return []
        return DataLoader(self._val_set, batch_size=self.cfg.batch_size, shuffle=False,
                          num_workers=self.cfg.num_workers)


def steps_per_epoch(num_samples: int, batch_size: int, world: int = 1) -> int:
    return max(num_samples // (batch_size * world), 0)


def total_steps(num_samples: int, batch_size: int, epochs: int, max_steps: int = -1, world: int = 1) -> int:
    """Optimizer steps of a stage (one per batch, the tail batch dropped)."""
    steps = steps_per_epoch(num_samples, batch_size, world) * epochs
    return steps if max_steps < 0 else min(steps, max_steps)


__all__ = [
    "CathxDataModule",
    "ConcatReader",
    "ResumableBatchSampler",
    "ResumableDataLoader",
    "SeededDataset",
    "epoch_permutation",
    "open_sources",
    "rank_batches",
    "total_steps",
]
