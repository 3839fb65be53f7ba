"""`python -m api COMMAND`: migrate, create-user, run-jobs, qa-sample."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from pydantic import ValidationError

from api import crypto, seed
from api.actor import SYSTEM
from api.db import Database
from api.errors import DomainError
from api.models.enums import Role, TicketKind
from api.schemas.qa import SampleIn
from api.services import auth, jobs, qa, reports
from api.settings import Settings, get_settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(settings: Settings) -> None:
    """Bring the database to the latest schema and add the data every install needs."""
    command.upgrade(alembic_config(settings.db_url), "head")
    db = Database.connect(settings.db_url)
    try:
        with db.writer() as session:
            seed.bootstrap(session, demo=settings.seeds_demo)
    finally:
        db.dispose()


def _create_user(settings: Settings, args: argparse.Namespace) -> None:
    password = args.password or getpass.getpass(f"Password for {args.name}: ")
    db = Database.connect(settings.db_url)
    try:
        with db.writer() as session:
            staff = auth.create_user(
                session,
                args.name,
                password,
                Role(args.role),
                display_name=args.display_name,
                team=args.team,
                skills=args.skills.split(",") if args.skills else None,
            )
            session.commit()
            print(f"created {staff.role} {staff.username!r} (id {staff.id})")
    finally:
        db.dispose()


def _run_jobs(settings: Settings) -> None:
    db = Database.connect(settings.db_url)
    try:
        print(json.dumps(jobs.run_periodic_jobs(db, settings), indent=2, default=str))
    finally:
        db.dispose()


def _qa_sample(settings: Settings, args: argparse.Namespace) -> None:
    """Draw a QA sample as the system (S8.2), e.g. weekly from cron."""
    body = SampleIn(
        first=args.first,
        last=args.last,
        kinds=args.kind or [],
        per_kind=args.per_kind,
        share=args.share,
        count=args.count,
        seed=args.seed,
    )
    db = Database.connect(settings.db_url)
    try:
        with db.writer() as session:
            period = reports.period(settings, body.first, body.last)
            sample = qa.draw(session, settings, SYSTEM, period, body)
            session.commit()
            refs = [review.ticket.ref for review in sample.reviews]
            drawn = {"sample": sample.id, "seed": sample.seed, "population": sample.population}
            print(json.dumps({**drawn, "tickets": refs}))
    finally:
        db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="upgrade the database to the latest schema")
    user = sub.add_parser("create-user", help="create a staff account")
    user.add_argument("name")
    user.add_argument("--role", choices=[r.value for r in Role], required=True)
    user.add_argument("--password", help="default: asked at a prompt")
    user.add_argument("--display-name")
    user.add_argument("--team")
    user.add_argument("--skills", help="comma-separated ticket kinds; default: all")
    sub.add_parser("run-jobs", help="run the SLA breach check and auto-close once, now")
    sample = sub.add_parser("qa-sample", help="draw a QA sample of closed tickets (S8.2)")
    sample.add_argument("--from", dest="first", help="first day (default: 'to' - 29 days)")
    sample.add_argument("--to", dest="last", help="last day (default: today)")
    sample.add_argument("--kind", action="append", choices=[k.value for k in TicketKind])
    sample.add_argument("--per-kind", action="store_true", help="the size applies to each kind")
    size = sample.add_mutually_exclusive_group()
    size.add_argument("--share", type=float, help="default QA_SAMPLE_SHARE")
    size.add_argument("--count", type=int)
    sample.add_argument("--seed", type=int, help="default: a random one, kept with the sample")
    args = parser.parse_args(argv)

    settings = get_settings()
    crypto.configure(settings.master_key)
    settings.service_bearer  # noqa: B018  (generated on first use, like the key)
    try:
        if args.command == "migrate":
            migrate(settings)
            print(f"database is at the latest schema ({settings.safe_db_url})")
        elif args.command == "create-user":
            _create_user(settings, args)
        elif args.command == "qa-sample":
            _qa_sample(settings, args)
        else:
            _run_jobs(settings)
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"error: {problems}", file=sys.stderr)
        return 2
    return 0
