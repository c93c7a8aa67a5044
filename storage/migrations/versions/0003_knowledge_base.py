"""knowledge base: entries, passages and each backend's full-text index

SQLite gets an external-content FTS5 table kept in step by triggers;
PostgreSQL gets a generated tsvector column with a GIN index. Both use
English stemming (porter / 'english') so retrieval behaves alike.

Revision ID: 0003
Revises: 0002_reminders
Create Date: 2026-11-28 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002_reminders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=True),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=256), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["chats.id"],
            name=op.f("fk_knowledge_entries_chat_id_chats"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_knowledge_entries_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_entries")),
    )
    op.create_index(
        "ix_knowledge_entries_scope", "knowledge_entries", ["platform", "chat_id"], unique=False
    )
    op.create_table(
        "knowledge_passages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=True),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["knowledge_entries.id"],
            name=op.f("fk_knowledge_passages_entry_id_knowledge_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_passages")),
    )
    op.create_index("ix_knowledge_passages_entry", "knowledge_passages", ["entry_id"], unique=False)
    _full_text_index()


def _full_text_index() -> None:
    """Each backend's own full-text search over passages, kept outside the ORM."""
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "ALTER TABLE knowledge_passages ADD COLUMN search tsvector "
            "GENERATED ALWAYS AS (to_tsvector('english'::regconfig, text)) STORED"
        )
        op.execute(
            "CREATE INDEX ix_knowledge_passages_search ON knowledge_passages USING gin (search)"
        )
    elif dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE knowledge_fts USING fts5("
            "text, content='knowledge_passages', content_rowid='id', "
            "tokenize='porter unicode61 remove_diacritics 2')"
        )
        op.execute(
            "CREATE TRIGGER knowledge_fts_insert AFTER INSERT ON knowledge_passages BEGIN "
            "INSERT INTO knowledge_fts(rowid, text) VALUES (new.id, new.text); END"
        )
        op.execute(
            "CREATE TRIGGER knowledge_fts_delete AFTER DELETE ON knowledge_passages BEGIN "
            "INSERT INTO knowledge_fts(knowledge_fts, rowid, text) "
            "VALUES ('delete', old.id, old.text); END"
        )
        op.execute(
            "CREATE TRIGGER knowledge_fts_update AFTER UPDATE ON knowledge_passages BEGIN "
            "INSERT INTO knowledge_fts(knowledge_fts, rowid, text) "
            "VALUES ('delete', old.id, old.text); "
            "INSERT INTO knowledge_fts(rowid, text) VALUES (new.id, new.text); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS knowledge_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS knowledge_fts")
    op.drop_index("ix_knowledge_passages_entry", table_name="knowledge_passages")
    op.drop_table("knowledge_passages")
    op.drop_index("ix_knowledge_entries_scope", table_name="knowledge_entries")
    op.drop_table("knowledge_entries")
