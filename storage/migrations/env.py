"""Alembic environment: runs on the connection seqbot hands it (see storage.db).

Every table is defined in :mod:`storage.models`, so importing it gives autogenerate
the whole schema; the full-text search objects migration 0003 adds outside the ORM
are left out of the comparison by :func:`storage.models.include_in_autogenerate`.
"""

from alembic import context

from storage.models import Base, include_in_autogenerate

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - seqbot always passes its connection
    raise RuntimeError("run migrations through `seqbot db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_name=include_in_autogenerate,
)
with context.begin_transaction():
    context.run_migrations()
