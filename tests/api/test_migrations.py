"""Alembic migrations build exactly the schema the models describe, on both databases,
and `python -m api migrate` is repeatable (issue #2 §2)."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, func, select

from api import cli
from api.db import Base
from api.models import AuditHead, Product, SlaPolicy
from api.settings import Settings


def test_migrations_match_the_models(empty_db_url):
    command.upgrade(cli.alembic_config(empty_db_url), "head")
    engine = create_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_migrate_command_is_repeatable_and_seeds(empty_db_url, tmp_path):
    settings = Settings(
        var_dir=tmp_path,
        database_url=empty_db_url,
        secret_key="migrate-test-secret-0123456789",
        demo_data=True,
    )
    cli.migrate(settings)
    cli.migrate(settings)  # a second run changes nothing and does not fail
    engine = create_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(AuditHead)) == 1
            assert conn.scalar(select(func.count()).select_from(SlaPolicy)) == 7 * 4
            assert conn.scalar(select(func.count()).select_from(Product)) >= 8
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(empty_db_url):
    config = cli.alembic_config(empty_db_url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    command.upgrade(config, "head")
