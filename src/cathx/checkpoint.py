"""Model checkpoints: {"format", "version", "model_config", "state_dict", "extra"}, written atomically.

``load_model(path)`` rebuilds the network from the config stored inside, so a checkpoint is all
that inference needs. Lightning checkpoints work too when the LightningModule stores
``checkpoint["model_config"] = to_dict(cfg)`` and keeps the network as ``self.model``
(state-dict keys prefixed "model." are stripped).
"""

from __future__ import annotations

import io
import logging
import pickle
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cathx.config import from_dict, to_dict
from cathx.errors import CathxError, ConfigError
from cathx.fileio import atomic_write_bytes
from cathx.models import ModelConfig, build_model

logger = logging.getLogger(__name__)

FORMAT = "cathx-checkpoint"
VERSION = 1


def save_checkpoint(
    path: Path | str, model: nn.Module, model_cfg: ModelConfig, extra: dict[str, Any] | None = None
) -> Path:
    """Write model weights and config to ``path`` atomically (temp file + rename)."""
    buffer = io.BytesIO()
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    torch.save({"format": FORMAT, "version": VERSION, "model_config": to_dict(model_cfg),
                "state_dict": state, "extra": extra or {}}, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def read_checkpoint(path: Path | str) -> dict[str, Any]:
    """The raw checkpoint dict; CathxError if the file is missing, truncated or not a checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise CathxError(f"{path}: checkpoint not found")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # Lightning checkpoints may pickle objects the safe loader refuses; the file is the user's own.
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:  # noqa: BLE001
            raise CathxError(f"{path}: not a readable checkpoint ({_reason(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError, EOFError, ... on a bad file
        raise CathxError(f"{path}: not a readable checkpoint, truncated or corrupt ({_reason(exc)})") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CathxError(f"{path}: not a cathx checkpoint (no state_dict)")
    if "model_config" not in checkpoint:
        raise CathxError(f"{path}: not a cathx checkpoint (no model_config)")
    return checkpoint


def load_model(path: Path | str, map_location: str | torch.device = "cpu") -> tuple[nn.Module, ModelConfig]:
    """Rebuild the network stored in ``path`` and load its weights; returns (model in eval mode, config)."""
    checkpoint = read_checkpoint(path)
    try:
        cfg = from_dict(ModelConfig, dict(checkpoint["model_config"]), where=f"{path}: model_config")
    except ConfigError as exc:
        raise CathxError(str(exc)) from None
    # Weights come from the checkpoint, never from the encoder file named in the config.
    model = build_model(replace(cfg, encoder_weights=None))
    state = _strip_prefix(checkpoint["state_dict"], "model.")
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or mismatched:
        detail = "; ".join(
            f"{label} {len(keys)} (e.g. {keys[0]})"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape-mismatched", mismatched))
            if keys
        )
        raise CathxError(f"{path}: weights do not match a {cfg.encoder} {cfg.name} with tasks {list(cfg.tasks)}: {detail}")
    model.load_state_dict(state)
    model.to(map_location).eval()
    return model, cfg


def _strip_prefix(state: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Keep only the network's entries of a Lightning state dict ("model.x" -> "x")."""
    if any(key.startswith(prefix) for key in state):
        return {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}
    return dict(state)


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:120]}" if text else type(exc).__name__
