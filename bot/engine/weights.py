"""Reading checkpoint tensors: safetensors (single or sharded) or pytorch_model.bin.

Tensors are read one at a time, when the model asks for them, into memory of their own.
Reading a whole safetensors file (``load_file``) maps it and hands out views into the
mapping: every page a later copy touches stays resident until the last view dies, and
one small tensor kept as a view (a norm, a position table) kept the whole 300 MB mapping
alive. Per-tensor reads keep the load's peak at the model being built plus one tensor.

``pytorch_model.bin`` is only read with ``torch.load(weights_only=True)``, which refuses
pickled code; it is memory-mapped and each tensor is copied out when asked for. Every
failure names the file so the operator knows what to re-download.
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

    def __init__(self, files: list[Path], source: str) -> None:
        self.source = source
        self._where: dict[str, Path] = {}
        self._bins: dict[Path, dict[str, torch.Tensor]] = {}
        for path in files:
            for name in _names(path, self._bins):
                self._where[name] = path

    def has(self, name: str) -> bool:
        return self._key(name) is not None

    def get(self, name: str) -> torch.Tensor:
        """A float32 copy that shares no memory with the file or with other tensors."""
        key = self._key(name)
        if key is None:
            raise EngineError(f"{self.source}: weight {name!r} is missing from the checkpoint")
        path = self._where[key]
        tensor = self._bins[path][key] if path in self._bins else _read_one(path, key)
        # .float() of a float32 tensor is the tensor itself: copy so no view survives.
        return tensor.float() if tensor.dtype != torch.float32 else tensor.clone()

    def first_name(self, *names: str) -> str:
        """The stored name of the first of ``names`` the checkpoint has (else the last)."""
        for name in names:
            if (key := self._key(name)) is not None:
                return key
        return names[-1]

    def release(self) -> None:
        """Unmap the .bin files once the model holds its own copies."""
        self._bins.clear()

    def _key(self, name: str) -> str | None:
        for candidate in (name, f"model.{name}", name.removeprefix("model.")):
            if candidate in self._where:
                return candidate
        return None


def load_weights(directory: Path) -> Weights:
    """Index the checkpoint's tensors in ``directory``; :meth:`Weights.get` reads them."""
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
    return Weights(files, str(directory))


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


def _names(path: Path, bins: dict[Path, dict[str, torch.Tensor]]) -> list[str]:
    """The tensor names in one file (a .bin is mapped now and kept in ``bins``)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                return list(f.keys())
        loaded = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:
        raise _unreadable(path, exc) from None
    if not isinstance(loaded, dict) or not all(
        isinstance(v, torch.Tensor) for v in loaded.values()
    ):
        raise EngineError(f"{path}: not a state dict of tensors")
    bins[path] = loaded
    return list(loaded)


def _read_one(path: Path, name: str) -> torch.Tensor:
    """One tensor; the file's mapping is closed again before the copy is used."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return f.get_tensor(name)
    except Exception as exc:
        raise _unreadable(path, exc) from None


def _unreadable(path: Path, exc: Exception) -> EngineError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return EngineError(f"{path}: cannot read weights ({reason[:200]})")
