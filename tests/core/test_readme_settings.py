"""The README's configuration table lists every setting, with the default the code uses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_settings() -> dict[str, str]:
    """``SEQBOT_*`` name → default cell of the README's configuration table.

    A row may name two settings the short way: `SEQBOT_SLACK_HOST` / `_PORT` with
    the defaults `127.0.0.1` / `3000`.
    """
    section = README.read_text(encoding="utf-8").split("## Configuration", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`SEQBOT_"):
            continue
        names = re.findall(r"`([A-Z0-9_]+)`", cells[0])
        defaults = [d.strip().strip("`") for d in cells[1].split(" / ")] if cells[1] else []
        first = names[0]
        for index, name in enumerate(names):
            if not name.startswith("SEQBOT_"):  # `_PORT`: the first name with its last word swapped
                name = first.rsplit("_", 1)[0] + name
            assert name not in rows, f"{name} is listed twice"
            rows[name] = defaults[index] if index < len(defaults) else ""
    return rows


def shown_default(value: object) -> str:
    """A field default the way the README writes it (blank for "nothing")."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value in (None, "", [], {}):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


FIELDS = {f"SEQBOT_{name.upper()}": field for name, field in Settings.model_fields.items()}


def test_every_setting_is_in_the_readme_and_nothing_else() -> None:
    documented = readme_settings()
    assert sorted(set(FIELDS) - set(documented)) == [], "add these to the README table"
    assert sorted(set(documented) - set(FIELDS)) == [], "the README lists settings that are gone"


@pytest.mark.parametrize("variable", sorted(FIELDS))
def test_the_readme_default_is_the_real_default(variable: str) -> None:
    documented = readme_settings()
    if variable not in documented:
        pytest.fail(f"{variable} is missing from the README configuration table")
    assert documented[variable] == shown_default(
        FIELDS[variable].get_default(call_default_factory=True)
    )
