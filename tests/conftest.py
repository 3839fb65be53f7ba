"""Shared fixtures: every API test runs against SQLite and against a real PostgreSQL.

PostgreSQL: `TEST_POSTGRES_URL` (default the local server on 127.0.0.1:5432, user
postgres). The tests create their own database and drop it at the end. Under
`CI=true` an unreachable server fails the run instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, update
from sqlalchemy.engine import make_url

from api import crypto
from api.db import Base, Database
from api.main import create_app
from api.models import Conversation
from api.models.enums import Role
from api.seed import bootstrap
from api.services import auth, sla
from api.settings import Settings
from tests import processes
from tests.serving import serve

# tests/actions and tests/rasa_server run in the Rasa environment (`make test-rasa`)
collect_ignore = ["actions", "rasa_server"]

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SERVICE_TOKEN = "test-service-token"
PASSWORD = "correct-horse-9"


def _pg_available() -> bool:
    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=3).close()
        return True
    except psycopg.OperationalError:
        return False


def require_postgres() -> None:
    """Skip without a reachable PostgreSQL, or fail under CI, where one is required."""
    if not _pg_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL} (required under CI)")
        pytest.skip("PostgreSQL is not reachable; set TEST_POSTGRES_URL")


@contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database for the block (dropped after it); its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_url(request, tmp_path_factory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    require_postgres()
    with postgres_database("servicedesk_test") as url:
        yield url


@pytest.fixture(scope="session")
def settings(db_url: str, tmp_path_factory) -> Settings:
    return Settings(
        var_dir=Path(tmp_path_factory.mktemp("var")),
        database_url=db_url,
        secret_key="test-secret-key-0123456789abcdef",
        service_token=SERVICE_TOKEN,
        sla_check_seconds=0,
        demo_data=True,
        embed_gateway=False,  # the gateway's own tests (tests/bot) start it
    )


@pytest.fixture(scope="session")
def _schema(settings: Settings) -> Iterator[Database]:
    crypto.configure(settings.master_key)
    db = Database.connect(settings.db_url)
    Base.metadata.drop_all(db.engine)
    Base.metadata.create_all(db.engine)
    yield db
    db.dispose()


@pytest.fixture
def db(_schema: Database, settings: Settings) -> Iterator[Database]:
    """A database holding only the bootstrap data (and the demo catalogue)."""
    crypto.configure(settings.master_key)
    with _schema.writer() as session:
        bootstrap(session, demo=True)
    sla.forget_stored()  # the previous test's calendar and policies were deleted directly
    yield _schema
    with _schema.writer() as session:
        session.execute(update(Conversation).values(ticket_id=None))  # the tables refer both ways
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(delete(table))
        session.commit()


@pytest.fixture
def app(db: Database, settings: Settings):
    application = create_app(settings)
    application.state.db.dispose()
    application.state.db = db
    return application


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def service_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {SERVICE_TOKEN}"}


@pytest.fixture
def make_staff(db: Database, client: TestClient):
    """Create a staff member and return (staff id, auth headers) after a real login."""

    def _make(username: str, role: Role | str = Role.agent, **kwargs) -> tuple[int, dict]:
        with db.writer() as session:
            staff = auth.create_user(session, username, PASSWORD, Role(role), **kwargs)
            session.commit()
            staff_id = staff.id
        response = client.post(
            "/api/v1/auth/token", data={"username": username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return staff_id, {"Authorization": f"Bearer {response.json()['access_token']}"}

    return _make


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The test app served by uvicorn on 127.0.0.1 in a thread: real concurrent requests."""
    with serve(app) as url:
        yield url


@pytest.fixture
def empty_db_url(db_url, tmp_path):
    """A new, empty database of the same kind as the session's."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    with postgres_database("servicedesk_migrate") as url:
        yield url


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The embedded default as `make run` starts it, in processes of their own (the API
    with the gateway mounted, the action server, Rasa with the trained model)."""

    if not processes.MODEL.exists():
        pytest.fail(f"no trained model at {processes.MODEL}: run `make train`")
    with processes.stack(tmp_path_factory.mktemp("var")) as running:
        yield running
