"""Typed configuration: frozen dataclasses loaded from YAML with strict checking.

An unknown key, a wrong type or a value outside a declared set of choices raises ConfigError
naming the file, the key and the valid choices.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from cathx.errors import ConfigError

T = TypeVar("T")
_EXPONENT_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def choices(*values: str) -> dict[str, Any]:
    """Field metadata declaring the allowed values: ``field(default="a", metadata=choices("a", "b"))``."""
    return {"choices": tuple(values)}


def check_choice(where: str, value: Any, allowed: tuple[str, ...]) -> None:
    """ConfigError naming ``where`` unless ``value`` (or each item of a list / tuple) is in ``allowed``."""
    for item in value if isinstance(value, (list, tuple)) else [value]:
        if item not in allowed:
            raise ConfigError(f"{where}: invalid value {item!r}; choose from {', '.join(allowed)}")


def _convert(value: Any, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(annotation, value, where)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item_type, *_rest) = typing.get_args(annotation) or (Any,)
        items = [_convert(item, item_type, f"{where}[{i}]") for i, item in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if annotation is Any:
        return value
    if annotation is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if annotation is float and isinstance(value, str) and _EXPONENT_FLOAT.fullmatch(value.strip()):
        # YAML 1.1 (PyYAML) reads 1e-4 without a dot as a string; it is the float everybody means.
        return float(value)
    if annotation is bool and not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if annotation is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if annotation in (str, int, float) and not isinstance(value, annotation):
        raise ConfigError(f"{where}: expected {annotation.__name__}, got {value!r}")
    return value


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build dataclass ``cls`` from a plain dict, rejecting unknown keys and invalid choices."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, value in data.items():
        key_where = f"{where}.{name}"
        converted = _convert(value, hints[name], key_where)
        allowed = fields[name].metadata.get("choices")
        if allowed is not None:
            check_choice(key_where, converted, allowed)
        kwargs[name] = converted
    return cls(**kwargs)


def read_yaml_mapping(path: Path | str) -> dict[str, Any]:
    """The top-level mapping of YAML file ``path`` ({} for an empty file); ConfigError names the
    file when it is missing, not YAML, or not a mapping."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (YAML must be UTF-8)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def load_yaml(cls: type[T], path: Path | str) -> T:
    """Load YAML file ``path`` into dataclass ``cls``; ConfigError names the file on any problem."""
    return from_dict(cls, read_yaml_mapping(path), where=str(path))


def to_dict(obj: Any) -> dict[str, Any]:
    """Plain-dict form of a config dataclass (for YAML dumps and checkpoints)."""
    return dataclasses.asdict(obj)


# The experiment configs ship inside the package (package data): src/cathx/configs links to the
# repository's configs/ folder, and a wheel holds the files themselves.
CONFIGS_DIR = Path(__file__).resolve().parent / "configs"


def bundled_configs() -> list[str]:
    """Names of the configs shipped with cathx (``demo``, ``paper``, ...), sorted."""
    return sorted(path.stem for path in CONFIGS_DIR.glob("*.yaml"))


def resolve_config(spec: Path | str) -> Path:
    """A YAML path, or the name of a shipped config (``demo`` or ``demo.yaml``) -> the file.

    An existing path wins over a name; other paths are returned as given (the loader names them).
    A bare name that is not shipped raises ConfigError listing the shipped names.
    """
    path = Path(spec)
    if path.is_file() or path.parent != Path("."):
        return path
    name = path.name.removesuffix(".yaml")
    if (CONFIGS_DIR / f"{name}.yaml").is_file():
        return CONFIGS_DIR / f"{name}.yaml"
    if path.suffix:
        return path
    raise ConfigError(f"{spec}: no such config file or shipped config; shipped configs: {', '.join(bundled_configs())}")
