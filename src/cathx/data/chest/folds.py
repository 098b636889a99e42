"""Folds grouped by patient: no patient's studies on both sides of a split (sklearn-free)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cathx.errors import ConfigError


def group_folds(groups: Sequence[str], n_splits: int = 5, seed: int = 0) -> np.ndarray:
    """Fold index (N,) int64 for each item, keeping every group within one fold.

    Groups are shuffled with ``seed`` and then assigned, largest first, to the currently smallest
    fold (as sklearn's GroupKFold balances sizes, plus the shuffle so that equal-sized groups are
    not split in order of appearance).
    """
    names, inverse, counts = np.unique(np.asarray(groups, dtype=str), return_inverse=True, return_counts=True)
    if n_splits < 2 or n_splits > len(names):
        raise ConfigError(f"folds: need 2 <= folds <= number of patients ({len(names)}), got {n_splits}")
    order = np.random.default_rng(seed).permutation(len(names))
    order = order[np.argsort(-counts[order], kind="stable")]
    sizes = np.zeros(n_splits, np.int64)
    fold_of_group = np.zeros(len(names), np.int64)
    for g in order:
        fold = int(np.argmin(sizes))
        fold_of_group[g] = fold
        sizes[fold] += counts[g]
    return fold_of_group[inverse]


def split_fold(folds: np.ndarray, fold: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices) for validation fold ``fold``."""
    if not 0 <= fold <= int(folds.max()):
        raise ConfigError(f"fold: must be between 0 and {int(folds.max())}, got {fold}")
    return np.nonzero(folds != fold)[0], np.nonzero(folds == fold)[0]
