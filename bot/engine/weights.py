"""Reading checkpoint tensors: safetensors (single or sharded) or pytorch_model.bin.

``pytorch_model.bin`` is only read with ``torch.load(weights_only=True)``, which refuses
pickled code. Every failure names the file so the operator knows what to re-download.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from .errors import EngineError

_SAFE = "model.safetensors"
_SAFE_INDEX = "model.safetensors.index.json"
_BIN = "pytorch_model.bin"
_BIN_INDEX = "pytorch_model.bin.index.json"


def config_value(cfg: dict[str, Any], name: str, source: str) -> Any:
    """A required config.json field, or an EngineError naming it."""
    if name not in cfg:
        raise EngineError(f"{source}: config.json has no {name!r} field")
    return cfg[name]


class Weights:
    """Name -> float32 tensor, with aliases for checkpoints saved by other model classes."""

    def __init__(self, tensors: dict[str, torch.Tensor], source: str) -> None:
        self._tensors = tensors
        self.source = source

    def has(self, name: str) -> bool:
        return self._lookup(name) is not None

    def get(self, name: str) -> torch.Tensor:
        tensor = self._lookup(name)
        if tensor is None:
            raise EngineError(f"{self.source}: weight {name!r} is missing from the checkpoint")
        return tensor.float()

    def release(self) -> None:
        """Drop the raw tensors once the model holds what it needs (lowers peak memory)."""
        self._tensors.clear()

    def _lookup(self, name: str) -> torch.Tensor | None:
        for candidate in (name, f"model.{name}", name.removeprefix("model.")):
            if candidate in self._tensors:
                return self._tensors[candidate]
        return None


def load_weights(directory: Path) -> Weights:
    """Load every tensor of the checkpoint in ``directory``."""
    if (directory / _SAFE).is_file():
        files = [directory / _SAFE]
    elif (directory / _SAFE_INDEX).is_file():
        files = _shards(directory, _SAFE_INDEX)
    elif (directory / _BIN).is_file():
        files = [directory / _BIN]
    elif (directory / _BIN_INDEX).is_file():
        files = _shards(directory, _BIN_INDEX)
    else:
        raise EngineError(f"{directory}: no weights found (expected {_SAFE} or {_BIN})")
    tensors: dict[str, torch.Tensor] = {}
    for path in files:
        tensors.update(_read(path))
    return Weights(tensors, str(directory))


def _shards(directory: Path, index_name: str) -> list[Path]:
    index = directory / index_name
    try:
        weight_map = json.loads(index.read_text())["weight_map"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EngineError(f"{index}: not a valid shard index ({exc})") from None
    files = [directory / name for name in dict.fromkeys(weight_map.values())]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise EngineError(f"{index}: shard file {missing[0]} is missing")
    return files


def _read(path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        loaded = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise EngineError(f"{path}: cannot read weights ({reason[:200]})") from None
    if not isinstance(loaded, dict) or not all(
        isinstance(v, torch.Tensor) for v in loaded.values()
    ):
        raise EngineError(f"{path}: not a state dict of tensors")
    return loaded
