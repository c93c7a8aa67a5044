"""Offering the default model when an interactive ``seqbot chat`` starts without it.

The README's first command is ``seqbot chat``; without a model every language task
only says how to pull one. So a chat in a terminal asks once, showing the download
size, and fetches the model with a progress bar. An offline machine must not wait:
the hub is asked once with a short timeout, and the chat goes on without the model
after one line that says so. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from bot.engine.download import HUB_TIMEOUT, DownloadFailed, HubUnreachable, allow_patterns
from bot.settings import Settings


def needs_download(name: str, cache_dir: str | None = None) -> bool:
    """Whether ``name`` is a hub id whose weights are not in the local cache.

    Local paths never need a download (the loader explains what is wrong with a bad one).
    """
    path = Path(name).expanduser()
    if path.is_dir() or path.is_absolute() or name.startswith((".", "~")) or name.count("/") > 1:
        return False
    from huggingface_hub import snapshot_download

    try:
        snapshot = Path(snapshot_download(name, cache_dir=cache_dir, local_files_only=True))
    except Exception:
        return True
    has_weights = any(snapshot.glob("*.safetensors")) or any(snapshot.glob("pytorch_model*.bin"))
    return not ((snapshot / "config.json").is_file() and has_weights)


def download_size(name: str) -> int:
    """Bytes that ``seqbot model pull`` would fetch: one hub request, short timeout, no retry.

    Raises :class:`HubUnreachable` when the hub does not answer, :class:`DownloadFailed`
    when it answers with an error (unknown or gated model).
    """
    from huggingface_hub import HfApi
    from huggingface_hub.utils import HfHubHTTPError, filter_repo_objects

    try:
        info = HfApi().model_info(name, files_metadata=True, timeout=HUB_TIMEOUT)
    except HfHubHTTPError as exc:
        raise DownloadFailed(_first_line(exc)) from None
    except Exception as exc:
        raise HubUnreachable(_first_line(exc)) from None
    sizes = {sibling.rfilename: sibling.size or 0 for sibling in info.siblings or []}
    chosen = filter_repo_objects(list(sizes), allow_patterns=allow_patterns(list(sizes)))
    return sum(sizes[file] for file in chosen)


def offer_default_model(
    settings: Settings,
    *,
    confirm: Callable[[str], bool] | None = None,
    say: Callable[[str], None] = typer.echo,
) -> None:
    """Ask to download ``settings.model`` if it is missing; every outcome is one line."""
    from bot.engine.download import pull

    if settings.engine_url:  # the model runs on the engine server; nothing to fetch here
        return
    name = settings.model
    if not needs_download(name, settings.model_dir):
        return
    stays_off = f"the language tasks stay off until `seqbot model pull {name}`."
    try:
        size = download_size(name)
    except HubUnreachable:
        say(
            f"The default model {name} is not downloaded and the Hugging Face hub cannot be "
            f"reached; {stays_off}"
        )
        return
    except DownloadFailed as exc:
        say(
            f"The default model {name} is not downloaded and the hub refused it ({exc}); {stays_off}"
        )
        return
    question = (
        f"The default model {name} ({size / 1e6:,.0f} MB) is not downloaded. Download it now?"
    )
    if not (confirm or _confirm)(question):
        say(stays_off[0].upper() + stays_off[1:])
        return
    try:
        pull(name, settings.model_dir)  # huggingface_hub draws the progress bar
    except DownloadFailed as exc:
        say(f"The download failed ({exc}); {stays_off}")
    except KeyboardInterrupt:
        say(f"Download stopped; {stays_off}")
    else:
        say(f"Downloaded {name}.")


def _confirm(question: str) -> bool:
    """Yes by default; end of input or Ctrl+C at the question mean no."""
    try:
        return typer.confirm(question, default=True)
    except typer.Abort:
        typer.echo()
        return False


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__
