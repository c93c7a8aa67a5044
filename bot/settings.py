"""All configuration in one object, read once at start.

Values come from ``SEQBOT_*`` environment variables, then a ``.env`` file in the
working directory, then these defaults: the embedded defaults give a working
console bot on SQLite with no setup. Secrets are :class:`~pydantic.SecretStr`
so they cannot leak through ``repr``, logs or ``seqbot config``.

An empty value counts as unset everywhere (``SEQBOT_TELEGRAM_TOKEN=`` in an env
file does not enable Telegram), and every problem with the values surfaces as
one :class:`ConfigError` line from :func:`load_settings`.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError
from sqlalchemy.engine import make_url

from storage.urls import async_url, mask_url


class ConfigError(Exception):
    """The settings cannot be used; the message is one line naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SEQBOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
    )

    # Storage
    database_url: SecretStr = Field(
        SecretStr("sqlite+aiosqlite:///seqbot.db"),
        description="SQLAlchemy async URL; PostgreSQL: postgresql+asyncpg://user:pass@host/db",
    )
    database_password: SecretStr | None = Field(
        None, description="Database password, set apart from the URL so it needs no quoting"
    )
    history_max_messages: int = Field(1000, ge=0, description="Messages kept per chat (0: none)")
    history_max_age_days: int = Field(
        30, ge=0, description="Days a stored message is kept (0: forever)"
    )
    dialog_ttl_minutes: int = Field(30, ge=1, description="How long a pending dialog step waits")

    # Routing
    bot_name: str = Field("seqbot", description="Name used for mentions and /command@name")
    default_task: str = Field("ask", description="Task that answers free text in private chats")
    max_message_chars: int = Field(8000, ge=1, description="Longer messages are refused")
    timezone: str = Field("UTC", description="Time zone for users who have not set one")
    language: str = Field("en", description="Language for users who have not set one")
    log_level: str = Field("INFO", description="Python logging level")
    heartbeat_file: str | None = Field(
        None, description="`seqbot run` touches it every 30 s; `seqbot health` checks it"
    )
    startup_retry_seconds: float = Field(
        60.0, ge=0, description="How long `seqbot run` retries a platform it cannot reach"
    )

    # Engine
    model: str = Field("google/flan-t5-small", description="Hub id or local directory")
    model_dir: str | None = Field(None, description="Where downloaded models are cached")
    engine_threads: int = Field(0, ge=0, description="Torch threads (0: all cores)")
    engine_int8: bool = Field(True, description="int8 weights for linear layers on CPU")
    engine_int8_path: Literal["auto", "vnni", "avx2"] = Field(
        "auto", description="int8 kernel range: auto (from the CPU), vnni (full) or avx2 (reduced)"
    )
    engine_max_batch: int = Field(32, ge=1, description="Sequences decoded together")
    engine_max_queue: int = Field(256, ge=1, description="Waiting requests before 'busy'")
    engine_timeout_seconds: float = Field(120.0, gt=0, description="Per-request time limit")
    engine_url: str | None = Field(
        None,
        description="A remote engine (`seqbot engine serve`), http://HOST:PORT/seqbot: "
        "no model is loaded in this process",
    )
    engine_retries: int = Field(
        3, ge=0, le=10, description="Retries of a remote engine request that could not connect"
    )
    translation_models: dict[str, str] = Field(
        default_factory=dict, description='Marian models per pair, JSON: {"en-de": "path"}'
    )
    translation_model: str | None = Field(
        None,
        description="Multilingual model (NLLB, M2M100) for every pair without a Marian model",
    )

    # Language tasks
    prompts: dict[str, str] = Field(
        default_factory=dict, description='Prompt template overrides, JSON: {"ask.model": "..."}'
    )
    sentiment_labels: list[str] = Field(
        default_factory=lambda: ["positive", "negative", "neutral"],
        description="Labels /sentiment scores",
    )
    kb_admins: list[str] = Field(
        default_factory=list, description="User ids (or platform:id) who manage workspace-wide KB"
    )
    kb_max_entries: int = Field(500, ge=1, description="Knowledge base entries per chat")

    # Reminders
    reminder_max_per_user: int = Field(100, ge=1, description="Active reminders per user")
    reminder_max_years_ahead: int = Field(
        5, ge=1, le=100, description="How far ahead a reminder may be"
    )
    reminder_grace_minutes: int = Field(
        60 * 24, ge=0, description="Overdue by more than this after downtime: reported as missed"
    )
    reminder_lease_seconds: float = Field(
        60.0, gt=0, description="How long a worker owns the due reminders it claimed"
    )
    reminder_send_timeout_seconds: float = Field(
        20.0, gt=0, description="Longest wait for one reminder post"
    )
    reminder_sweep_seconds: float = Field(
        15.0, gt=0, description="How often each worker looks for due reminders regardless"
    )

    # Telegram
    telegram_token: SecretStr | None = Field(None, description="Bot token from @BotFather")
    telegram_api_url: str = Field(
        "https://api.telegram.org/bot", description="Bot API base URL (self-hosted server)"
    )
    telegram_webhook_url: str | None = Field(None, description="Public URL: webhook mode")
    telegram_webhook_secret: SecretStr | None = Field(None, description="Webhook secret token")
    telegram_webhook_host: str = Field("127.0.0.1", description="Webhook listen address")
    telegram_webhook_port: int = Field(8443, description="Webhook listen port")

    # Slack
    slack_bot_token: SecretStr | None = Field(None, description="xoxb- bot token")
    slack_signing_secret: SecretStr | None = Field(None, description="HTTP mode request signing")
    slack_app_token: SecretStr | None = Field(None, description="xapp- token: Socket Mode")
    slack_api_url: str = Field("https://slack.com/api/", description="Web API base URL")
    slack_host: str = Field("127.0.0.1", description="HTTP mode listen address")
    slack_port: int = Field(3000, description="HTTP mode listen port")
    slack_allowed_users: list[str] = Field(
        default_factory=list, description='Allow-list of user ids, JSON: ["U123"] (empty: all)'
    )
    slack_allowed_channels: list[str] = Field(
        default_factory=list, description="Allow-list of channel ids (empty: all)"
    )
    slack_ephemeral_results: bool = Field(
        False, description="Slash command results visible only to the caller"
    )

    #: What start-up should log once logging is set up (e.g. a database URL that was rewritten).
    _notes: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, values: Any) -> Any:
        """A value of only spaces means "not set", like an empty one (``env_ignore_empty``)."""
        if isinstance(values, dict):
            return {k: v for k, v in values.items() if not (isinstance(v, str) and not v.strip())}
        return values

    @field_validator("database_url")
    @classmethod
    def _valid_database_url(cls, value: SecretStr) -> SecretStr:
        async_url(value.get_secret_value())  # refuses what seqbot cannot connect to
        return value

    @model_validator(mode="after")
    def _use_async_driver(self) -> Settings:
        """Connect with the async driver (and the separate password) whatever the URL says."""
        given = make_url(self.database_url.get_secret_value())
        url = make_url(async_url(self.database_url.get_secret_value()))
        if url.drivername != given.drivername:
            self._notes.append(
                f"SEQBOT_DATABASE_URL names the {given.drivername} driver; "
                f"seqbot connects with {url.drivername} instead"
            )
        if self.database_password is not None:
            url = url.set(password=self.database_password.get_secret_value())
        self.database_url = SecretStr(url.render_as_string(hide_password=False))
        return self

    @field_validator("engine_url")
    @classmethod
    def _valid_engine_url(cls, value: str | None) -> str | None:
        """An http(s) URL with a host; never echoed back, as it may carry a password."""
        if value is None:
            return None
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(value.strip())
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
            _ = parts.port  # raises ValueError for a port that is not a number
        except ValueError:
            valid = False
        if not valid:
            raise ValueError("must be an http:// or https:// URL such as http://HOST:8000/seqbot")
        return value.strip().rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        from bot.errors import UserError
        from bot.locale import parse_timezone

        try:
            return parse_timezone(value)
        except UserError as exc:
            raise ValueError(str(exc)) from None

    @property
    def startup_notes(self) -> list[str]:
        """Adjustments made to the settings, for the log once logging is set up."""
        return list(self._notes)

    @cached_property
    def database_url_masked(self) -> str:
        return mask_url(self.database_url.get_secret_value())

    def effective(self) -> dict[str, Any]:
        """Every setting with secrets masked: what ``seqbot config`` prints."""
        shown: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name == "database_url":
                value = self.database_url_masked
            elif name == "engine_url" and value:
                from bot.serving.client import safe_url

                value = safe_url(value)
            elif isinstance(value, SecretStr):
                value = "********" if value.get_secret_value() else ""
            shown[name] = value
        return shown


def load_settings(**values: Any) -> Settings:
    """The settings from the environment and .env; any problem is one :class:`ConfigError` line."""
    try:
        return Settings(**values)
    except (ValidationError, SettingsError) as exc:
        raise ConfigError(describe_settings_error(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read .env: {_first_line(exc)}") from None


def describe_settings_error(exc: ValidationError | SettingsError) -> str:
    """One line naming each variable at fault and what is wrong with it (never its value)."""
    if isinstance(exc, SettingsError):
        field = re.search(r'field "(\w+)"', str(exc))
        name = f"SEQBOT_{field.group(1).upper()}" if field else "a SEQBOT_ variable"
        cause = exc.__cause__ or exc.__context__
        reason = _first_line(cause) if cause is not None else _first_line(exc)
        return f"Invalid settings: {name}: not valid JSON ({reason})"
    problems = []
    for err in exc.errors():
        first, *rest = [str(part) for part in err["loc"]] or ["settings"]
        where = f"SEQBOT_{first.upper()}" + "".join(f"[{part}]" for part in rest)
        problems.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return "Invalid settings: " + "; ".join(problems)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
