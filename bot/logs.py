"""Logging setup that cannot leak secrets.

HTTP client libraries log request URLs, and Telegram puts the bot token in
every URL; a filter on the root handlers replaces every configured secret
value, whatever logger wrote it, so tokens never reach a log file.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

from pydantic import SecretStr
from sqlalchemy.engine import make_url

from bot.settings import Settings


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self.secrets:
            redacted = redacted.replace(secret, "********")
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            for secret in self.secrets:
                record.exc_text = record.exc_text.replace(secret, "********")
        return True


def secret_values(settings: Settings) -> list[str]:
    values = [
        getattr(settings, name).get_secret_value()
        for name in type(settings).model_fields
        if isinstance(getattr(settings, name), SecretStr) and name != "database_url"
    ]
    password = make_url(settings.database_url.get_secret_value()).password
    if password:
        values.append(str(password))
    return values


def setup_logging(settings: Settings, *, level: str | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secret_values(settings)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or settings.log_level).upper())
    # Request lines carry tokens and add noise; keep them out unless debugging.
    for noisy in ("httpx", "httpcore", "apscheduler", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
