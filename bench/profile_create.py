"""Profile ticket creation in-process: what one `POST /api/v1/tickets` costs in the service.

    .venv/bin/python bench/profile_create.py [--db sqlite|postgresql] [-n 500]

Runs what the route runs (`tickets.create` and building the `TicketOut` response), one
ticket at a time, in a fresh database (a temporary SQLite file, or `bench_prof_<hex>` on
the local PostgreSQL, dropped afterwards). Prints the CPU time per create without the
profiler, the SQL statements one create sends, then cProfile's view. HTTP, FastAPI and
the thread pool are not included: `bench/api.py` measures those (docs/performance.md).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))  # `import api` is the package, not bench/api.py

from sqlalchemy import event  # noqa: E402

from api import cli, crypto  # noqa: E402
from api.actor import SERVICE  # noqa: E402
from api.db import Database  # noqa: E402
from api.routes.tickets import ticket_out  # noqa: E402
from api.schemas.tickets import TicketCreate  # noqa: E402
from api.services import tickets  # noqa: E402
from api.settings import Settings  # noqa: E402
from bench.api import database  # noqa: E402


@contextlib.contextmanager
def fresh_database(kind: str) -> Iterator[Settings]:
    with tempfile.TemporaryDirectory(prefix="bench-prof-") as tmp, database(kind, Path(tmp)) as url:
        settings = Settings(
            var_dir=Path(tmp) / "var",
            database_url=url,
            secret_key="profile-secret-key-0123456789",
            service_token="profile-service-token",
            sla_check_seconds=0,
        )
        crypto.configure(settings.master_key)
        cli.migrate(settings)
        yield settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("-n", type=int, default=500, help="creates per measurement")
    parser.add_argument("--top", type=int, default=30, help="rows of the cProfile listing")
    args = parser.parse_args(argv)
    rng = random.Random(1)

    with fresh_database(args.db) as settings:
        db = Database.connect(settings.db_url)
        statements: list[str] = []

        def create() -> None:
            body = TicketCreate.model_validate(
                {
                    "kind": "complaint",
                    "description": f"洗衣机脱水时噪音很大，订单 {rng.randrange(10**5)}。",
                    "customer": {"name": "张伟", "phone": f"138{rng.randrange(10**8):08d}"},
                    "channel": "web",
                }
            )
            with db.writer() as session:
                created = tickets.create(session, settings, SERVICE, body)
                ticket_out(created.ticket, SERVICE).model_dump_json()

        for _ in range(50):  # warm caches (SQL compilation, connections)
            create()
        started = time.process_time()
        for _ in range(args.n):
            create()
        cpu_ms = (time.process_time() - started) / args.n * 1000

        def count(_conn, _cursor, statement, *_args) -> None:
            statements.append(" ".join(statement.split())[:110])

        event.listen(db.write_engine, "before_cursor_execute", count)
        create()
        event.remove(db.write_engine, "before_cursor_execute", count)

        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.n):
            create()
        profiler.disable()
        db.dispose()

    print(f"{args.db}: {cpu_ms:.2f} ms CPU per create (service + response model, no HTTP)")
    print(f"{len(statements)} SQL statements per create (BEGIN/COMMIT not counted):")
    for statement in statements:
        print(f"  {statement}")
    if args.db == "postgresql":  # api/services/audit.py sends these to psycopg directly
        print("  + the head moved and the events inserted (one statement) with COMMIT, pipelined")
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(r"api/", args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
