"""SQL storage: typed ORM models, small query functions, Alembic migrations."""

from storage.db import Database, StorageError

__all__ = ["Database", "StorageError"]
