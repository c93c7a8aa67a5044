"""``python -m bot`` is the ``seqbot`` command."""

from bot.cli import main

main()
