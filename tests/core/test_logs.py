import logging

from bot.logs import setup_logging
from bot.settings import Settings


def test_secrets_never_reach_the_log(capsys, tmp_path):
    settings = Settings(
        _env_file=None,
        telegram_token="123456:SUPER-SECRET",
        database_url="postgresql+asyncpg://bot:pg-password@localhost/seqbot",
    )
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging(settings)
        log = logging.getLogger("httpx.example")
        log.warning("POST https://api.telegram.org/bot%s/getMe", "123456:SUPER-SECRET")
        try:
            raise RuntimeError("connect failed for bot:pg-password@localhost")
        except RuntimeError:
            logging.getLogger("seqbot").exception("database down")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    err = capsys.readouterr().err
    assert "SUPER-SECRET" not in err and "pg-password" not in err
    assert "bot********/getMe" in err and "RuntimeError" in err
