"""Chest radiographs with lines and tubes (RANZCR CLiP): reader, synthetic generator, cache, folds."""

from cathx.data.chest.ranzcr import GROUP_NAMES, GROUPS, LABELS, RanzcrReader

__all__ = ["GROUPS", "GROUP_NAMES", "LABELS", "RanzcrReader"]
