"""The schema the migrations build is the schema the models describe, as Alembic sees it.

``alembic revision --autogenerate`` compares the database with the metadata that
``storage/migrations/env.py`` imports: a table defined where env.py does not look
becomes a proposal to drop it. The comparison runs in a fresh interpreter, so the
metadata holds only what env.py itself imports, not whatever the rest of the suite
happened to import first.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from functools import partial
from pathlib import Path

from sqlalchemy import text

from storage.db import Database

ROOT = Path(__file__).resolve().parents[2]

#: Runs env.py on a migrated database and prints what autogenerate would change, one a line.
COMPARE = """
import asyncio, sys
from alembic.autogenerate import compare_metadata
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from storage.db import Database, alembic_config

def changes(connection):
    config = alembic_config()
    config.attributes["connection"] = connection
    script = ScriptDirectory.from_config(config)
    found = []

    def compare(revision, context):  # env.py's configured context, target and options
        found.extend(compare_metadata(context, context.opts["target_metadata"]))
        return []

    with EnvironmentContext(config, script, fn=compare):
        script.run_env()
    return found

async def main(url, schema):
    args = {"server_settings": {"search_path": schema}} if schema else None
    database = Database(url, connect_args=args)
    try:
        async with database.engine.connect() as connection:
            for change in await connection.run_sync(changes):
                print(change)
    finally:
        await database.dispose()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_autogenerate_proposes_no_changes_after_all_migrations(db: Database) -> None:
    schema = ""
    if db.dialect == "postgresql":
        async with db.engine.connect() as connection:
            schema = str(await connection.scalar(text("SELECT current_schema()")))
    command = [sys.executable, "-c", COMPARE, db.url, schema]
    run = partial(subprocess.run, cwd=ROOT, capture_output=True, text=True, timeout=120)
    done = await asyncio.to_thread(run, command)
    assert done.returncode == 0, done.stderr
    proposed = done.stdout.splitlines()
    assert proposed == []
