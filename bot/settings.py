"""All configuration in one object, read once at start.

Values come from ``SEQBOT_*`` environment variables, then a ``.env`` file in the
working directory, then these defaults: the embedded defaults give a working
console bot on SQLite with no setup. Secrets are :class:`~pydantic.SecretStr`
so they cannot leak through ``repr``, logs or ``seqbot config``.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SEQBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Storage
    database_url: SecretStr = Field(
        SecretStr("sqlite+aiosqlite:///seqbot.db"),
        description="SQLAlchemy async URL; PostgreSQL: postgresql+asyncpg://user:pass@host/db",
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

    # Engine
    model: str = Field("google/flan-t5-small", description="Hub id or local directory")
    model_dir: str | None = Field(None, description="Where downloaded models are cached")
    engine_threads: int = Field(0, ge=0, description="Torch threads (0: all cores)")
    engine_int8: bool = Field(True, description="int8 weights for linear layers on CPU")
    engine_max_batch: int = Field(32, ge=1, description="Sequences decoded together")
    engine_max_queue: int = Field(256, ge=1, description="Waiting requests before 'busy'")
    engine_timeout_seconds: float = Field(120.0, gt=0, description="Per-request time limit")
    translation_models: dict[str, str] = Field(
        default_factory=dict, description='Marian models per pair, JSON: {"en-de": "path"}'
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
    reminder_max_years_ahead: int = Field(5, ge=1, description="How far ahead a reminder may be")
    reminder_grace_minutes: int = Field(
        60 * 24, ge=0, description="Overdue by more than this after downtime: reported as missed"
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

    @field_validator("database_url")
    @classmethod
    def _valid_database_url(cls, value: SecretStr) -> SecretStr:
        try:
            make_url(value.get_secret_value())
        except Exception as exc:
            raise ValueError(f"not a database URL: {exc}") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        from bot.errors import UserError
        from bot.locale import parse_timezone

        try:
            return parse_timezone(value)
        except UserError as exc:
            raise ValueError(str(exc)) from None

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
            elif isinstance(value, SecretStr):
                value = "********" if value.get_secret_value() else ""
            shown[name] = value
        return shown


def mask_url(url: str) -> str:
    """The URL with its password replaced, safe for logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"
