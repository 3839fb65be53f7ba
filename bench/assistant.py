"""Assistant latency: a reply through Rasa's REST channel against bare model parsing.

    .venv/bin/python bench/assistant.py [--conversations 40] [--concurrency 10] [--rounds 2]
                                        [--think SECONDS] [--json FILE] [--keep] [--check]

It starts the whole stack as the tests do (`tests/processes.py`: the API on a fresh
SQLite database under a temporary VAR_DIR, the action server, and `rasa run` with a
snapshot of `models/current.tar.gz`), each process in its own environment on a free port
of 127.0.0.1. This process is the load generator (httpx, not inside any server).

- **reply**: `POST /webhooks/rest/webhook {"sender": …, "message": …}` from
  `--concurrency` concurrent conversations (distinct senders, each sending its turns one
  after the other, with `--think` seconds ±50 % between a reply and the next turn — a
  customer reading and typing, 3 s by default — and staggered starts; `--think 0` sends
  the turns back to back, a saturation figure rather than a conversation).
- **baseline** (`parse`): bare model parsing, `POST /model/parse {"text": …}`, of the
  same texts with the same pacing and concurrency.

Every conversation is the same realistic path: a greeting, an FAQ question, then a
complaint filled turn by turn (product, what happened, when, the remedy wanted, a phone
number) and confirmed, upon which the action server creates the ticket through the API.
Even-numbered conversations are in Chinese, odd ones in English. So a turn exercises the
model, the dialogue policies, the action server (the `language` slot's custom mapping,
the form validation, the questions) and, at the end, the API.

The flow is verified, outside the timed requests: each conversation must end with a
reply quoting its ticket reference (`CS-…`), the ticket must exist in the API, and Rasa's
tracker must show every turn took the scripted path (the expected action ran, the form
then asked for the expected slot, the `language` slot matches). Otherwise the run stops
with exit status 2: the figures would describe error paths.

After a warm-up (`--warmup` conversations, not measured but verified), each round runs
the baseline and then the reply phase; the summary figures are medians over the rounds,
as in bench/api.py. Printed: p50/p95/p99/mean latency and throughput of both, the
reply/parse ratios, the CPU time each server process used per request (from /proc), the
reply latency of each step of the conversation, and PASS/FAIL against the target: reply
p95 <= 150 ms at 10 concurrent conversations. The CPU time other processes used during
each phase is measured too (/proc/stat): a WARNING says when the machine was busy.
The exit status is 0 (it is a measurement) unless `--check` is given and the target is
missed (1), or the flow broke (2).

Needs the trained model (`make train`) and both environments (`make setup`). Per-round
lines go to stderr, the summary tables to stdout. Everything it starts is stopped and
its temporary directory removed on exit, Ctrl-C and SIGTERM included; `--keep` (or a
broken flow) keeps the directory with the three servers' logs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `tests.processes` when run as `python bench/assistant.py`
from tests import processes  # noqa: E402

TARGET_P95_MS = 150.0  # reply p95 at TARGET_CONCURRENCY concurrent conversations
TARGET_CONCURRENCY = 10
BUSY_MACHINE = 0.2  # CPUs used by other processes during a phase before the figures are flagged
REF = re.compile(r"CS-\d{8}-\d{4,}")
PROCESS_NAMES = ("rasa", "actions", "api")

# ---------------------------------------------------------------- the conversations

# The scripted path: each step, the action that must run in that turn and the slot the
# complaint form asks for afterwards (None: no form question pending).
STEPS: dict[str, tuple[str, str | None]] = {
    "greet": ("utter_greet", None),
    "faq": ("utter_faq", None),
    "complain": ("complaint_form", "product"),
    "product": ("complaint_form", "complaint_details"),
    "details": ("complaint_form", "occurred_on"),
    "date": ("complaint_form", "remedy"),
    "remedy": ("complaint_form", "phone"),
    "phone": ("complaint_form", "confirmed"),
    "confirm": ("action_submit_complaint", None),
}

# Per language, the texts of each step. (product, details) pairs stay together so that a
# conversation makes sense. The openers are short on purpose: a long one already says
# what happened and the form would skip the `complaint_details` question. Nothing here
# mentions a safety hazard (which would hand the customer to an agent instead).
TEXTS: dict[str, dict[str, tuple[Any, ...]]] = {
    "zh": {
        "greet": ("你好", "您好", "在吗", "你好，请问有人吗"),
        "faq": ("保修多久", "售后热线是多少", "保修期多长时间", "客服电话多少"),
        "complain": ("我要投诉",),
        "case": (
            ("洗衣机", "洗衣机脱水的时候声音特别大，像要散架一样"),
            ("冰箱", "冰箱冷藏室不制冷，东西都坏了"),
            ("空调 KFR-35GW", "空调外机漏水，滴到楼下"),
            ("热水器", "师傅上门迟到了三个小时还乱收费"),
        ),
        "date": ("昨天", "前天", "上周一", "三天前"),
        "remedy": ("希望换一台新的", "给我修好就行", "要求退款", "希望赔偿损失"),
        "confirm": ("对", "是的", "确认"),
    },
    "en": {
        "greet": ("hello", "hi there", "good morning", "hello, anyone there?"),
        "faq": (
            "how long is the warranty",
            "what's your customer service number",
            "what's the warranty period",
            "after sales hotline number",
        ),
        "complain": ("I want to complain",),
        "case": (
            ("washing machine", "the drum bangs loudly during the spin cycle"),
            ("the fridge", "the fridge stopped cooling and the food went off"),
            ("air conditioner KFR-35GW", "water drips from the outdoor unit onto my balcony"),
            ("dishwasher", "the display shows error E4 and it won't start"),
        ),
        "date": ("yesterday", "last Monday", "3 days ago", "two weeks ago"),
        "remedy": ("I want a new one", "just fix it", "a refund please", "I'd like compensation"),
        "confirm": ("yes", "correct", "yes please"),
    },
}


@dataclass
class Turn:
    step: str
    text: str


@dataclass
class Conversation:
    sender: str
    lang: str
    turns: list[Turn]


def conversation(sender: str, lang: str, rng: random.Random) -> Conversation:
    texts = TEXTS[lang]
    product, details = rng.choice(texts["case"])
    if lang == "zh":
        phone = f"13{rng.randrange(8, 10)}{rng.randrange(10**8):08d}"
    else:
        phone = f"+4479460958{rng.randrange(100):02d}"
    chosen = {
        "greet": rng.choice(texts["greet"]),
        "faq": rng.choice(texts["faq"]),
        "complain": rng.choice(texts["complain"]),
        "product": product,
        "details": details,
        "date": rng.choice(texts["date"]),
        "remedy": rng.choice(texts["remedy"]),
        "phone": phone,
        "confirm": rng.choice(texts["confirm"]),
    }
    return Conversation(sender, lang, [Turn(step, chosen[step]) for step in STEPS])


def conversations(label: str, count: int, seed: int) -> list[Conversation]:
    """`count` conversations, alternately Chinese and English, with distinct senders."""
    rng = random.Random(seed)
    return [conversation(f"bench-{label}-{i:04d}", ("zh", "en")[i % 2], rng) for i in range(count)]


# ---------------------------------------------------------------- measurement


@dataclass
class Phase:
    """One measured phase (parse or reply) of one round."""

    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    cpu_ms: dict[str, float]  # CPU time (user + system) of each server process per request
    other_cpus: float  # CPUs kept busy meanwhile by other processes than the stack and bench
    timed_out: bool


@dataclass
class Outcome:
    """What one conversation got back: per turn, the latency and the replies' texts."""

    conversation: Conversation
    latencies: list[float] = field(default_factory=list)
    replies: list[list[str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str | None:
        found = REF.search("\n".join(self.replies[-1])) if self.replies else None
        return found.group() if found else None


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (p in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summarise(
    latencies: list[float], errors: int, seconds: float, cpu: dict[str, float], timed_out: bool
) -> Phase:
    values = sorted(latencies)
    done = len(values)
    return Phase(
        requests=done,
        errors=errors,
        seconds=seconds,
        rps=(done - errors) / seconds if seconds else 0.0,
        p50_ms=percentile(values, 50) * 1000,
        p95_ms=percentile(values, 95) * 1000,
        p99_ms=percentile(values, 99) * 1000,
        mean_ms=statistics.fmean(values) * 1000 if values else math.nan,
        cpu_ms={name: cpu[name] / done * 1000 if done else math.nan for name in PROCESS_NAMES},
        other_cpus=max(0.0, cpu["machine"] - sum(cpu[n] for n in (*PROCESS_NAMES, "bench")))
        / seconds
        if seconds
        else math.nan,
        timed_out=timed_out,
    )


class CpuMeter:
    """CPU seconds used so far (Linux /proc; NaN elsewhere) by each server process, by this
    load generator (`bench`) and by the whole machine (`machine`: all busy time)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = {**pids, "bench": os.getpid()}
        self.ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def read(self) -> dict[str, float]:
        used = {}
        for name in (*PROCESS_NAMES, "bench"):
            try:
                stat = Path(f"/proc/{self.pids[name]}/stat").read_text()
                fields = stat.rsplit(")", 1)[1].split()
                used[name] = (int(fields[11]) + int(fields[12])) / self.ticks  # utime, stime
            except (KeyError, OSError, ValueError, IndexError):
                used[name] = math.nan
        try:  # cpu user nice system idle iowait irq softirq steal …
            jiffies = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
            used["machine"] = (sum(jiffies[:8]) - jiffies[3] - jiffies[4]) / self.ticks
        except (OSError, ValueError, IndexError):
            used["machine"] = math.nan
        return used

    def since(self, before: dict[str, float]) -> dict[str, float]:
        now = self.read()
        return {name: now[name] - before[name] for name in now}


PARSE, REPLY = "/model/parse", "/webhooks/rest/webhook"


async def run_phase(
    client: httpx.AsyncClient,
    convs: list[Conversation],
    args: argparse.Namespace,
    cpu: CpuMeter,
    endpoint: str,
) -> tuple[Phase, list[Outcome]]:
    """`--concurrency` workers, each taking the next conversation and sending its turns in
    order, with the same pacing for both endpoints: to `REPLY` (Rasa's REST channel, the
    whole dialogue) or to `PARSE` (the baseline: the model's NLU only, the same texts).
    Returns the phase's figures and what each conversation got back."""
    outcomes: list[Outcome] = []
    errors = 0
    next_index = 0
    cpu_before = cpu.read()
    started = time.perf_counter()
    deadline = started + args.time_limit

    async def talk(conv: Conversation) -> Outcome:
        nonlocal errors
        outcome = Outcome(conv)
        pause = random.Random(conv.sender)
        for index, turn in enumerate(conv.turns):
            if index and args.think:  # the customer reads the reply and types the next one
                await asyncio.sleep(args.think * pause.uniform(0.5, 1.5))
            body = (
                {"sender": conv.sender, "message": turn.text}
                if endpoint == REPLY
                else {"text": turn.text}
            )
            t0 = time.perf_counter()
            try:
                response = await client.post(endpoint, json=body)
            except httpx.HTTPError as exc:
                errors += 1
                outcome.errors.append(f"{turn.step}: {exc!r}")
                break
            outcome.latencies.append(time.perf_counter() - t0)
            if not response.is_success:
                errors += 1
                outcome.errors.append(f"{turn.step}: HTTP {response.status_code}")
                break
            if endpoint == REPLY:
                outcome.replies.append([m.get("text") or "" for m in response.json()])
        return outcome

    async def worker(number: int) -> None:
        nonlocal next_index
        if args.think:  # customers do not all arrive in the same millisecond
            await asyncio.sleep(args.think * random.Random(number).random())
        while next_index < len(convs) and time.perf_counter() < deadline:
            conv = convs[next_index]
            next_index += 1
            outcomes.append(await talk(conv))

    await asyncio.gather(*(worker(number) for number in range(args.concurrency)))
    seconds = time.perf_counter() - started
    latencies = [latency for outcome in outcomes for latency in outcome.latencies]
    phase = summarise(latencies, errors, seconds, cpu.since(cpu_before), next_index < len(convs))
    return phase, outcomes


# ---------------------------------------------------------------- flow verification


def turns_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rasa's tracker events, cut at each user message: per turn, the intent, the actions
    run, the slot the form asks for afterwards and the `language` slot."""
    turns: list[dict[str, Any]] = []
    requested: str | None = None
    lang: str | None = None
    for event in events:
        kind = event.get("event")
        if kind == "user":
            intent = (event.get("parse_data") or {}).get("intent") or {}
            turns.append({"intent": intent.get("name"), "actions": [], "requested": requested})
        elif kind == "slot" and event.get("name") == "requested_slot":
            requested = event.get("value")
        elif kind == "slot" and event.get("name") == "language":
            lang = event.get("value")
        elif kind == "action" and turns and event.get("name") != "action_listen":
            turns[-1]["actions"].append(event.get("name"))
        if turns:
            turns[-1]["requested"] = requested
            turns[-1]["language"] = lang
    return turns


async def verify(
    rasa: httpx.AsyncClient, api: httpx.AsyncClient, outcomes: list[Outcome]
) -> list[str]:
    """What went off the scripted path, one line per problem, each starting with the
    sender (empty: the flow worked)."""
    problems: list[str] = []
    for outcome in outcomes:
        conv = outcome.conversation
        where = f"{conv.sender} ({conv.lang})"
        if outcome.errors:
            problems.append(f"{where}: {'; '.join(outcome.errors)}")
            continue
        response = await rasa.get(f"/conversations/{conv.sender}/tracker")
        turns = turns_of(response.json().get("events") or []) if response.is_success else []
        for index, (turn, seen) in enumerate(zip(conv.turns, turns, strict=False)):
            action, requested = STEPS[turn.step]
            off = []
            if action not in seen["actions"]:
                off.append(f"no {action} (ran {', '.join(seen['actions']) or 'nothing'})")
            if seen["requested"] != requested:
                off.append(f"form then asks for {seen['requested']}, not {requested}")
            if seen.get("language") != conv.lang:
                off.append(f"language slot {seen.get('language')}")
            if off:
                reply = " | ".join(outcome.replies[index])[:160]
                problems.append(
                    f"{where} turn {index + 1} {turn.step} {turn.text!r} "
                    f"(intent {seen['intent']}): {'; '.join(off)} — replied {reply!r}"
                )
                break
        if len(turns) != len(conv.turns):
            problems.append(f"{where}: the tracker has {len(turns)} of {len(conv.turns)} turns")
        ref = outcome.ref
        if ref is None:
            problems.append(f"{where}: no ticket reference (CS-…) in the last reply")
        elif not (await api.get(f"/tickets/{ref}")).is_success:
            problems.append(f"{where}: ticket {ref} not found in the API")
    return problems


# ---------------------------------------------------------------- the run


@dataclass
class Round:
    parse: Phase
    reply: Phase


@dataclass
class Run:
    model: str
    rounds: list[Round] = field(default_factory=list)
    step_ms: dict[str, list[float]] = field(default_factory=dict)  # reply latencies by step
    conversations: int = 0
    tickets: int = 0

    def median(self, phase: str, name: str, process: str | None = None) -> float:
        return median_of(self.rounds, phase, name, process)


def median_of(rounds: list, phase: str, name: str, process: str | None = None) -> float:
    """The median over the rounds of one figure of a phase (of one process's, for CPU)."""
    values = [getattr(getattr(r, phase), name) for r in rounds]
    if process is not None:
        values = [value[process] for value in values]
    return statistics.median(values)


class BrokenFlow(Exception):
    """The conversations did not take the scripted path: the figures would be wrong."""


def snapshot_model(workdir: Path) -> tuple[Path, str]:
    """A copy of the trained model (a retrain may rewrite it while this runs) and a line
    naming it."""
    if not processes.MODEL.is_file():
        raise SystemExit(
            f"no trained model at {processes.MODEL.relative_to(ROOT)}: run `make train` first"
        )
    if not processes.RASA_PYTHON.exists():
        raise SystemExit(f"no Rasa environment at {processes.RASA_PYTHON}: run `make setup`")
    copy = workdir / "model.tar.gz"
    shutil.copyfile(processes.MODEL, copy)
    digest = hashlib.sha256(copy.read_bytes()).hexdigest()[:12]
    trained = datetime.fromtimestamp(processes.MODEL.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    size = copy.stat().st_size / 1e6
    name = f"{processes.MODEL.relative_to(ROOT)} (sha256 {digest}, {size:.0f} MB, {trained})"
    return copy, name


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Child processes' chatter (the migration) to stderr: stdout is for the tables."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


async def drive(stack: processes.Stack, run: Run, args: argparse.Namespace) -> None:
    cpu = CpuMeter(stack.pids)
    missing = set(PROCESS_NAMES) - set(cpu.pids)
    if missing:
        log(f"note: no pid found for {', '.join(sorted(missing))}: its CPU time shows as nan")
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    timeout = args.request_timeout
    headers = {"Authorization": f"Bearer {processes.SERVICE_TOKEN}"}
    async with (
        httpx.AsyncClient(
            base_url=stack.rasa_url or "", limits=limits, timeout=timeout, trust_env=False
        ) as rasa,
        httpx.AsyncClient(
            base_url=f"{stack.api_url}/api/v1", headers=headers, timeout=timeout, trust_env=False
        ) as api,
    ):

        async def checked(label: str, outcomes: list[Outcome]) -> None:
            problems = await verify(rasa, api, outcomes)
            run.conversations += len(outcomes)
            run.tickets += sum(1 for o in outcomes if o.ref)
            if problems:
                broken = {line.split(" ", 1)[0] for line in problems}
                shown = "\n  ".join(problems[:8])
                more = f"\n  … and {len(problems) - 8} more" if len(problems) > 8 else ""
                raise BrokenFlow(
                    f"{label}: {len(broken)} of {len(outcomes)} conversations off the scripted "
                    f"path:\n  {shown}{more}"
                )

        if args.warmup:
            convs = conversations("warmup", args.warmup, seed=0)
            t0 = time.perf_counter()
            await run_phase(rasa, convs, args, cpu, PARSE)
            _, outcomes = await run_phase(rasa, convs, args, cpu, REPLY)
            await checked("warm-up", outcomes)
            log(
                f"warm-up: {len(convs)} conversations, every one reached its ticket "
                f"({time.perf_counter() - t0:.0f} s)"
            )
        for round_no in range(1, args.rounds + 1):
            convs = conversations(f"r{round_no}", args.conversations, seed=round_no)
            parse, _ = await run_phase(rasa, convs, args, cpu, PARSE)
            report_phase(round_no, "parse", parse)
            reply, outcomes = await run_phase(rasa, convs, args, cpu, REPLY)
            report_phase(round_no, "reply", reply)
            await checked(f"round {round_no}", outcomes)
            run.rounds.append(Round(parse, reply))
            for outcome in outcomes:
                turns = outcome.conversation.turns
                for turn, latency in zip(turns, outcome.latencies, strict=False):
                    run.step_ms.setdefault(turn.step, []).append(latency * 1000)


def bench(args: argparse.Namespace) -> tuple[Run, Path]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-assistant-"))
    keep = args.keep
    try:
        model, name = snapshot_model(workdir)
        log(f"model: {name}")
        run = Run(model=name)
        with contextlib.ExitStack() as servers:
            log("starting the API, the action server and Rasa (about a minute) …")
            t0 = time.perf_counter()
            with stdout_to_stderr():
                stack = servers.enter_context(processes.stack(workdir / "var", model=model))
            log(f"stack up in {time.perf_counter() - t0:.0f} s; logs in {workdir / 'var'}")
            asyncio.run(drive(stack, run, args))
    except KeyboardInterrupt:
        raise
    except Exception:
        keep = True
        log(f"kept for inspection: {workdir / 'var'} (api.log, actions.log, rasa.log)")
        raise
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return run, workdir


# ---------------------------------------------------------------- output


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def report_phase(round_no: int, name: str, phase: Phase) -> None:
    cpu = " ".join(f"{p} {phase.cpu_ms[p]:5.1f}" for p in PROCESS_NAMES)
    log(
        f"round {round_no} {name:5} {phase.requests:5} req {phase.rps:6.1f} req/s  "
        f"p50 {phase.p50_ms:6.1f}  p95 {phase.p95_ms:6.1f}  p99 {phase.p99_ms:6.1f}  "
        f"mean {phase.mean_ms:6.1f} ms  CPU ms/req: {cpu}  errors {phase.errors}  "
        f"other load {phase.other_cpus:.2f} CPU" + ("  (time limit hit)" if phase.timed_out else "")
    )


def report(run: Run, args: argparse.Namespace) -> bool:
    """Print the tables; return whether the target was met."""
    turns = len(STEPS)
    print(
        f"\nconcurrency {args.concurrency}, {args.conversations} conversations × {turns} "
        f"turns per round (zh/en alternately), think time {args.think:g} s, "
        f"median of {args.rounds} round(s); "
        f"{os.cpu_count()} CPU(s), Python {platform.python_version()}\nmodel {run.model}\n"
    )
    print(
        f"{'phase':<7}{'requests':>9}{'errors':>7}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p99 ms':>9}{'mean ms':>9}   CPU ms/req: " + " ".join(f"{p:>7}" for p in PROCESS_NAMES)
    )
    for phase in ("parse", "reply"):
        requests = sum(getattr(r, phase).requests for r in run.rounds)
        errors = sum(getattr(r, phase).errors for r in run.rounds)
        cpu = " ".join(f"{run.median(phase, 'cpu_ms', p):>7.1f}" for p in PROCESS_NAMES)
        print(
            f"{phase:<7}{requests:>9}{errors:>7}{run.median(phase, 'rps'):>8.1f}"
            + "".join(f"{run.median(phase, key):>9.1f}" for key in ("p50_ms", "p95_ms", "p99_ms"))
            + f"{run.median(phase, 'mean_ms'):>9.1f}{'':15}{cpu}"
        )
    ratios = {
        key: run.median("reply", key) / run.median("parse", key)
        for key in ("rps", "p50_ms", "p95_ms", "p99_ms", "mean_ms")
    }
    print(
        f"{'ratio':<7}{'reply/parse':>16}{ratios['rps']:>8.2f}"
        + "".join(f"{ratios[key]:>9.1f}" for key in ("p50_ms", "p95_ms", "p99_ms", "mean_ms"))
    )

    print(f"\nreply latency by step (all rounds pooled), ms\n{'step':<10}{'p50':>8}{'p95':>8}")
    for step in STEPS:
        values = sorted(run.step_ms.get(step, []))
        print(f"{step:<10}{percentile(values, 50):>8.1f}{percentile(values, 95):>8.1f}")

    other = max(max(r.parse.other_cpus, r.reply.other_cpus) for r in run.rounds)
    if other > BUSY_MACHINE:
        print(
            f"\nWARNING: other processes kept up to {other:.2f} of the {os.cpu_count()} CPUs busy "
            f"during a phase: the latencies are pessimistic; rerun on a quiet machine"
        )
    p95 = run.median("reply", "p95_ms")
    met = p95 <= TARGET_P95_MS
    verdict = "PASS" if met else "FAIL"
    if args.concurrency != TARGET_CONCURRENCY:
        verdict += f" (the target is set at {TARGET_CONCURRENCY}, this ran {args.concurrency})"
    pacing = f"{args.think:g} s think time" if args.think else "no think time"
    print(
        f"\nflow: {run.tickets} of {run.conversations} conversations (warm-up included) "
        f"created their ticket through the API, every turn on the scripted path"
    )
    print(
        f"target: reply p95 ≤ {TARGET_P95_MS:.0f} ms at {TARGET_CONCURRENCY} concurrent "
        f"conversations ({pacing}): {p95:.1f} ms ({p95 / TARGET_P95_MS:.1f}× the target)  "
        f"{verdict}"
    )
    return met


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--conversations",
        type=int,
        default=40,
        help=f"measured conversations per round, {len(STEPS)} turns each (default 40)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=TARGET_CONCURRENCY,
        help=f"concurrent conversations / parse clients (default {TARGET_CONCURRENCY})",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="parse-then-reply rounds; figures are medians (default 2)",
    )
    parser.add_argument(
        "--think",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="mean pause between a reply and the next turn, ±50%% (default 3: a customer "
        "reading and typing; 0: requests back to back, a stress figure)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=10,
        help="unmeasured (but verified) conversations before the first round (default 10)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=600,
        help="seconds a phase may last before it stops early (default 600)",
    )
    parser.add_argument("--request-timeout", type=float, default=60)
    parser.add_argument("--json", type=Path, help="also write the per-round figures here")
    parser.add_argument("--keep", action="store_true", help="keep the servers' logs")
    parser.add_argument("--check", action="store_true", help="exit 1 if the target is missed")
    args = parser.parse_args(argv)
    counts = (args.conversations, args.concurrency, args.rounds)
    if min(counts) < 1 or min(args.warmup, args.think) < 0:
        parser.error(
            "--conversations, --concurrency and --rounds must be ≥ 1, --warmup and --think ≥ 0"
        )
    return args


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Ctrl-C and SIGTERM unwind through every `finally`, which stops what this run started
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        run, workdir = bench(args)
    except KeyboardInterrupt:
        log("interrupted: servers stopped, temporary files removed")
        return 130
    except BrokenFlow as exc:
        log(f"\nFLOW BROKEN — no figures reported, they would measure error paths.\n{exc}")
        return 2
    met = report(run, args)
    if args.keep:
        log(f"\nlogs kept in {workdir / 'var'}")
    if args.json:
        args.json.write_text(json.dumps(asdict(run), indent=2, ensure_ascii=False))
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
