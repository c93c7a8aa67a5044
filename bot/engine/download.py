"""Downloading a model from the Hugging Face hub (``seqbot model pull``).

Kept apart from the loader so that downloading, and offering to download, never
imports torch. The hub is asked once, with a short timeout and no retries,
before anything is fetched: an offline machine hears so in seconds, in one line.
"""

from __future__ import annotations

import os
from pathlib import Path

from bot.errors import UserError

DOWNLOAD_PATTERNS = ["*.json", "*.spm", "*.model", "*.txt"]

#: How long ``seqbot model pull`` waits for the hub's first answer. It is asked once, with no
#: retries, so an offline machine hears so in seconds instead of after a backoff series.
HUB_TIMEOUT = 5.0


class DownloadFailed(UserError):
    """A model could not be downloaded; the one-line message says why and what to do."""


class HubUnreachable(DownloadFailed):
    """The Hugging Face hub did not answer (offline, firewall, a wrong HF_ENDPOINT)."""


def pull(name: str, cache_dir: str | None = None) -> Path:
    """Download a hub model's config, tokenizer and weights (safetensors when offered).

    Raises :class:`HubUnreachable` when the hub cannot be reached and
    :class:`DownloadFailed` for anything else that stops the download.
    """
    from huggingface_hub import snapshot_download

    patterns = allow_patterns(_hub_files(name))
    try:
        return Path(snapshot_download(name, cache_dir=cache_dir, allow_patterns=patterns))
    except Exception as exc:
        raise _download_error(name, exc) from None


def allow_patterns(files: list[str]) -> list[str]:
    """What to fetch of a repository with ``files``: config, tokenizer, and one weights
    format (safetensors when offered, else the PyTorch ``.bin`` files)."""
    if any(f.endswith(".safetensors") for f in files):
        return [*DOWNLOAD_PATTERNS, "*.safetensors", "*.safetensors.index.json"]
    return [*DOWNLOAD_PATTERNS, "pytorch_model*.bin", "pytorch_model.bin.index.json"]


def _hub_files(name: str) -> list[str]:
    """The files of hub model ``name``: one request with a short timeout and no retries."""
    from huggingface_hub import HfApi, constants

    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").lower() in {
        "1",
        "true",
        "yes",
    }:
        raise HubUnreachable(
            f"cannot download {name!r}: HF_HUB_OFFLINE is set; unset it, or copy the model "
            "directory to this machine and set SEQBOT_MODEL to it"
        )
    try:
        info = HfApi().model_info(name, timeout=HUB_TIMEOUT)
    except Exception as exc:
        raise _download_error(name, exc) from None
    return [sibling.rfilename for sibling in info.siblings or []]


def _download_error(name: str, exc: Exception) -> DownloadFailed:
    """The one-line error for a failed hub request, by what the failure says about the cause."""
    from huggingface_hub import constants
    from huggingface_hub.utils import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    reason = _first_line(exc)
    if isinstance(exc, GatedRepoError):
        return DownloadFailed(
            f"{name!r} is gated: accept its terms on the hub, then log in with `hf auth login`"
        )
    if isinstance(exc, RepositoryNotFoundError):
        return DownloadFailed(f"there is no model {name!r} on the hub; check the name")
    if isinstance(exc, HfHubHTTPError):
        return DownloadFailed(f"the hub refused to send {name!r}: {reason}")
    if isinstance(exc, OfflineModeIsEnabled):
        return HubUnreachable(f"cannot download {name!r}: HF_HUB_OFFLINE is set; unset it")
    return HubUnreachable(
        f"cannot reach the Hugging Face hub at {constants.ENDPOINT} ({reason}); check the "
        "network connection (or HF_ENDPOINT) and try again"
    )


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__
