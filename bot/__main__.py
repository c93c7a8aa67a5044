"""``python -m bot`` is the ``seqbot`` command.

The guard matters: the reminder parser starts its Duckling worker with the ``spawn``
method, which imports the main module again in the child; without it, the child
would run a second seqbot.
"""

from bot.cli import main

if __name__ == "__main__":
    main()
