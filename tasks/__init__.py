"""seqbot's built-in task plugins, registered through the ``seqbot.tasks`` entry points."""
