"""``python -m bot`` is the ``seqbot`` command."""

from bot.cli import app

app(prog_name="seqbot")
