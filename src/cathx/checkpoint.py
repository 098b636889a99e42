"""Model checkpoints: {"format", "version", "model_config", "state_dict", "extra"}, written atomically.

Two containers hold that one record: ``.safetensors`` (tensors, with format, version, model
config and extra as JSON in the header metadata: the shipped models and what `cathx export
--format safetensors` writes, ``cathx.export.weights``) and torch's zip ``.pt`` written by training. Neither is ever
unpickled: ``.pt`` files load with ``torch.load(weights_only=True)``, which refuses any object
beyond tensors and plain containers, and cathx does not fall back to a full unpickle.

``load_model(path)`` rebuilds the network from the config stored inside, so a checkpoint is all
that inference needs. Lightning checkpoints work too when the LightningModule stores
``checkpoint["model_config"] = to_dict(cfg)`` and keeps the network as ``self.model``
(state-dict keys prefixed "model." are stripped).

Chest line/tube classifiers (``cathx cls``) keep their own record: {"format":
"cathx-chest-classifier", "version", "model_config" (a ClassifierConfig), "image_size", "labels",
"state_dict", "extra"}. ``save_classifier`` writes it as ``.safetensors`` only (the shipped
``cathx-chest`` and ``cathx cls train``'s ``classifier.safetensors``); ``load_classifier`` reads that,
a torch ``classifier.pt`` of older versions, and a Lightning ``.ckpt`` of ``cathx cls train``
(through the config in its hyper-parameters).

Shipped models are named (``cathx-fluoro``, ``cathx-chest``); ``cathx.zoo.resolve_weights`` turns a name into the file
inside the installed package, so every command and ``cathx.load`` accepts a name or a path.
"""

from __future__ import annotations

import io
import json
import logging
import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cathx.config import from_dict, to_dict
from cathx.errors import CathxError, ConfigError, DataError
from cathx.fileio import atomic_write_bytes
from cathx.models import ModelConfig, build_model
from cathx.models.classifier import ClassifierConfig, build_classifier
from cathx.zoo import resolve_weights

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


def save_safetensors(
    path: Path | str, model: nn.Module, model_cfg: ModelConfig, extra: dict[str, Any] | None = None
) -> Path:
    """Write the checkpoint record as safetensors (config and extra as JSON metadata), atomically."""
    from safetensors.torch import save

    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    metadata = {"format": FORMAT, "version": str(VERSION), "model_config": json.dumps(to_dict(model_cfg)),
                "extra": json.dumps(extra or {})}
    atomic_write_bytes(path, save(state, metadata=metadata))
    return Path(path)


def _open_safetensors(path: Path, what: str = "safetensors file") -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, header metadata) of a safetensors file; CathxError naming ``what`` if unreadable."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            state = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 - not a dict
    except Exception as exc:  # noqa: BLE001 - SafetensorError, OSError on a truncated or foreign file
        raise CathxError(f"{path}: not a readable {what}, truncated or corrupt ({_reason(exc)})") from None
    return state, metadata


def _chest_classifier_error(path: Path) -> CathxError:
    """The error for a chest classifier handed to a command that needs a catheter network."""
    return CathxError(f"{path}: a chest X-ray line/tube classifier; this command needs a catheter network "
                      "(cathx-fluoro or a `cathx train` checkpoint); use `cathx cls predict` / `cathx cls val` "
                      "for chest images")


def _read_safetensors(path: Path) -> dict[str, Any]:
    state, metadata = _open_safetensors(path)
    if metadata.get("format") == CHEST_FORMAT:
        raise _chest_classifier_error(path)
    if metadata.get("format") != FORMAT:
        raise CathxError(f"{path}: not a cathx checkpoint (safetensors without cathx metadata)")
    try:
        return {"format": FORMAT, "version": int(metadata.get("version", VERSION)), "state_dict": state,
                "model_config": json.loads(metadata["model_config"]), "extra": json.loads(metadata.get("extra", "{}"))}
    except (KeyError, ValueError) as exc:
        raise CathxError(f"{path}: cathx metadata is damaged ({_reason(exc)})") from None


OLD_PICKLE_HINT = ("if you trust its source, convert it once as docs/reliability.md shows "
                   "('Old pickle checkpoints')")


def load_torch_archive(path: Path | str, *, mmap: bool = False, hint: str = OLD_PICKLE_HINT) -> Any:
    """torch's zip checkpoint, tensors and plain containers only (``weights_only=True``): a file
    holding other pickled objects is refused with one line naming it (and ``hint``), never
    unpickled. ``mmap=True`` maps the tensors instead of reading them (a check of a big file)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        raise CathxError(
            f"{path}: refused, the file holds pickled Python objects besides tensors and cathx never "
            f"unpickles code from a weights file ({_reason(exc)}); {hint}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError, EOFError, ... on a bad file
        raise CathxError(f"{path}: not a readable checkpoint, truncated or corrupt ({_reason(exc)})") from None


def read_checkpoint(path: Path | str) -> dict[str, Any]:
    """The raw checkpoint dict of a name or path; CathxError if the file is missing, truncated,
    not a checkpoint, or holds pickled objects beyond tensors (never unpickled)."""
    path = resolve_weights(path)
    if not path.is_file():
        raise CathxError(f"{path}: checkpoint not found")
    if path.stat().st_size == 0:
        raise CathxError(f"{path}: weights file is empty (0 bytes)")
    if path.suffix.lower() == ".safetensors":
        return _read_safetensors(path)
    checkpoint = load_torch_archive(path)
    if isinstance(checkpoint, dict) and checkpoint.get("format") == CHEST_FORMAT:
        raise _chest_classifier_error(path)
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CathxError(f"{path}: not a cathx checkpoint (no state_dict)")
    if "model_config" not in checkpoint:
        raise CathxError(f"{path}: not a cathx checkpoint (no model_config)")
    return checkpoint


def trained_input_size(path: Path | str, extra: dict[str, Any] | None, default: int = 256) -> int:
    """The square input side the network in ``path`` was trained at: its record's ``input_size``
    (``image_size`` or ``size`` in older files), else ``data.size`` of the config.yaml of the run
    that wrote it (best.pt lies in the run's folder, a stage's model.pt three folders below it, a
    Lightning checkpoint four), else ``default``. The one rule of `cathx predict` and `cathx val`."""
    extra = extra or {}
    for key in ("input_size", "image_size", "size"):
        if extra.get(key):
            return int(extra[key])
    import yaml

    path = Path(path)
    for folder in path.parents[:4]:
        config = folder / "config.yaml"
        if config.is_file():
            try:
                return int(yaml.safe_load(config.read_text())["data"]["size"])
            except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
                logger.warning("%s: no data.size to take the input size from (%s); using %d px",
                               config, _reason(exc), default)
                break
    return default


def load_model(path: Path | str, map_location: str | torch.device = "cpu") -> tuple[nn.Module, ModelConfig]:
    """Rebuild the network stored in ``path`` and load its weights; returns (model in eval mode, config)."""
    checkpoint = read_checkpoint(path)
    try:
        # Weights come from the checkpoint, never from the encoder file named in the config.
        cfg = from_dict(ModelConfig, {**dict(checkpoint["model_config"]), "encoder_weights": None},
                        where=f"{path}: model_config")
    except ConfigError as exc:
        raise CathxError(str(exc)) from None
    model = build_model(cfg)
    state = _strip_prefix(checkpoint["state_dict"], "model.")
    detail = state_mismatch(model.state_dict(), state)
    if detail:
        raise CathxError(f"{path}: weights do not match a {cfg.encoder} {cfg.name} with tasks {list(cfg.tasks)}: {detail}")
    model.load_state_dict(state)
    model.to(map_location).eval()
    return model, cfg


def state_mismatch(own: dict[str, Any], state: dict[str, Any]) -> str:
    """"" when ``state`` has exactly the keys and shapes of ``own``, else a one-line summary:
    "missing 2 (e.g. head.weight); shape-mismatched 1 (e.g. stem.weight)"."""
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    return "; ".join(f"{label} {len(keys)} (e.g. {keys[0]})"
                     for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape-mismatched", mismatched))
                     if keys)


def _strip_prefix(state: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Keep only the network's entries of a Lightning state dict ("model.x" -> "x")."""
    if any(key.startswith(prefix) for key in state):
        return {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}
    return dict(state)


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:120]}" if text else type(exc).__name__


# --------------------------------------------------------------------------------------------
# Chest line/tube classifiers (``cathx cls``): the same two containers, their own record.

CHEST_FORMAT = "cathx-chest-classifier"
CHEST_VERSION = 1


def classifier_record(cfg: ClassifierConfig, image_size: int,
                      extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A chest classifier's record without its tensors: {format, version, model_config,
    image_size, labels, extra}, JSON-serialisable (``classifier.json`` beside a trained one)."""
    from cathx.data.chest.ranzcr import LABELS

    return {"format": CHEST_FORMAT, "version": CHEST_VERSION, "model_config": to_dict(cfg),
            "image_size": int(image_size), "labels": list(LABELS), "extra": extra or {}}


def save_classifier(path: Path | str, model: nn.Module, cfg: ClassifierConfig, image_size: int,
                    extra: dict[str, Any] | None = None) -> Path:
    """Write a chest classifier atomically as ``.safetensors``: its tensors, and
    ``classifier_record`` in the header metadata (strings kept, the rest as JSON), as the shipped
    ``cathx-chest`` and ``cathx cls train`` write it. The one chest format: torch ``.pt`` files of
    before issue 16 are still read (``read_classifier``), no longer written."""
    from safetensors.torch import save

    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        raise ValueError(f"{path}: chest classifiers are written as .safetensors only")
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    metadata = {key: value if isinstance(value, str) else json.dumps(value)
                for key, value in classifier_record(cfg, image_size, extra).items()}
    atomic_write_bytes(path, save(state, metadata=metadata))
    return path


def read_classifier(path: Path | str) -> dict[str, Any]:
    """The chest classifier record of a shipped name (``cathx-chest``), a ``.safetensors``, a
    ``classifier.pt`` or a Lightning ``.ckpt`` of ``cathx cls train`` ({model_config, image_size,
    state_dict} at least; a .ckpt's "model." prefix stripped). Never unpickles; CathxError on a
    missing, unreadable or foreign file."""
    path = resolve_weights(path)
    if not path.is_file():
        raise DataError(f"{path}: weights file not found")
    if path.suffix.lower() == ".safetensors":
        state, metadata = _open_safetensors(path, "chest classifier safetensors file")
        if metadata.get("format") != CHEST_FORMAT:
            raise DataError(f"{path}: not a chest classifier checkpoint (train one with `cathx cls train`)")
        try:
            return {"format": CHEST_FORMAT, "model_config": json.loads(metadata["model_config"]),
                    "image_size": int(metadata["image_size"]), "state_dict": state,
                    "extra": json.loads(metadata.get("extra", "{}"))}
        except (KeyError, ValueError) as exc:
            raise DataError(f"{path}: chest classifier metadata is damaged ({_reason(exc)})") from None
    payload = load_torch_archive(path)
    if isinstance(payload, dict) and payload.get("format") == CHEST_FORMAT:
        return payload
    config = payload.get("hyper_parameters", {}).get("config") if isinstance(payload, dict) else None
    if isinstance(config, dict) and "state_dict" in payload:  # a Lightning checkpoint of the chest module
        try:
            return {"format": CHEST_FORMAT, "model_config": config["model"],
                    "image_size": int(config["data"]["image_size"]),
                    "state_dict": _strip_prefix(payload["state_dict"], "model.")}
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{path}: Lightning checkpoint without a chest classifier config ({_reason(exc)})"
                            ) from None
    raise DataError(f"{path}: not a chest classifier checkpoint (train one with `cathx cls train`)")


def load_classifier(path: Path | str) -> tuple[nn.Module, ClassifierConfig, int]:
    """(classifier in eval mode on the CPU, its config, its input side in pixels) of
    ``read_classifier(path)``; CathxError when the weights do not fit the stored config."""
    record = read_classifier(path)
    try:
        cfg = from_dict(ClassifierConfig, dict(record["model_config"]), where=f"{path}: model_config")
    except ConfigError as exc:
        raise DataError(str(exc)) from None
    try:
        model = build_classifier(cfg)
    except (ValueError, RuntimeError) as exc:  # timm: unknown backbone; the heads: inconsistent sizes
        raise DataError(f"{path}: cannot build its {cfg.kind} {cfg.backbone} classifier ({_reason(exc)})") from None
    detail = state_mismatch(model.state_dict(), record["state_dict"])
    if detail:
        raise DataError(f"{path}: weights do not match a {cfg.kind} {cfg.backbone} classifier: {detail}")
    model.load_state_dict(record["state_dict"])
    return model.eval(), cfg, int(record["image_size"])
