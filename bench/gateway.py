"""Gateway latency: a widget message's round trip through the gateway against Rasa's REST
webhook called directly, in the same run.

    .venv/bin/python bench/gateway.py [--conversations 40] [--concurrency 20] [--rounds 2]
                                      [--think SECONDS] [--json FILE] [--keep] [--check]

It starts the embedded default as the tests do (`tests/processes.py`: the API with the
gateway mounted, on a fresh SQLite database, the action server, and Rasa with a snapshot
of `models/current.tar.gz`); this process is the load generator.

- **direct** (the baseline): `POST /webhooks/rest/webhook` to Rasa, as bench/assistant.py
  does: the whole dialogue (model, policies, action server, the API at the end).
- **widget**: the same conversations as customers of the web widget, each over its own
  WebSocket to `/channels/web/ws` (hello first, not timed). A round trip is from sending
  the message frame to receiving the last of the replies its `ack` announces: the gateway
  logs the message in the API, calls Rasa's REST webhook, logs the replies and sends them.

`--concurrency` customers at a time (20 by default), each sending its turns one after the
other with `--think` seconds ±50 % between a reply and the next turn (3 s: reading and
typing). The conversations are bench/assistant.py's (greeting, FAQ, a complaint filled
in and confirmed, zh and en alternately) and are verified the same way after each phase:
every one must reach its ticket in the API on the scripted path, or the run stops with
exit status 2. Figures are medians over `--rounds` rounds (direct, then widget, each
round). Target: widget p95 ≤ 1.3× direct p95. Exit status 0 unless `--check` and the
target is missed (1), or the flow broke (2).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `bench.assistant`, `tests.processes` when run as a script
from bench.assistant import (  # noqa: E402
    PROCESS_NAMES,
    REPLY,
    STEPS,
    BrokenFlow,
    Conversation,
    CpuMeter,
    Outcome,
    Phase,
    conversations,
    log,
    median_of,
    run_phase,
    snapshot_model,
    stdout_to_stderr,
    summarise,
    verify,
)
from bot.channels.web import external_id_of  # noqa: E402
from tests import processes  # noqa: E402

TARGET_RATIO = 1.3  # widget p95 / direct p95
TARGET_CONCURRENCY = 20


async def widget_phase(
    ws_url: str, convs: list[Conversation], args: argparse.Namespace, cpu: CpuMeter
) -> tuple[Phase, list[Outcome]]:
    """The conversations as widget customers, `--concurrency` at a time, paced as the
    direct phase is (bench/assistant.py::run_phase)."""
    outcomes: list[Outcome] = []
    errors = 0
    next_index = 0
    cpu_before = cpu.read()
    started = time.perf_counter()
    deadline = started + args.time_limit

    async def talk(script: Conversation) -> Outcome:
        nonlocal errors
        pause = random.Random(script.sender)
        async with connect(ws_url, max_queue=None) as socket:
            await socket.send(json.dumps({"type": "hello", "language": script.lang}))
            welcome = json.loads(await socket.recv())
            sender = f"web:{external_id_of(welcome['session'])}"  # Rasa's conversation id
            outcome = Outcome(Conversation(sender, script.lang, script.turns))
            for index, turn in enumerate(script.turns):
                if index and args.think:
                    await asyncio.sleep(args.think * pause.uniform(0.5, 1.5))
                frame = {"type": "message", "id": f"{script.sender}-{index}", "text": turn.text}
                t0 = time.perf_counter()
                await socket.send(json.dumps(frame))
                while (ack := json.loads(await socket.recv()))["type"] != "ack":
                    pass  # typing on / off
                replies = [json.loads(await socket.recv()) for _ in range(ack["replies"])]
                outcome.latencies.append(time.perf_counter() - t0)
                if ack["kept"] or not replies:
                    errors += 1
                    outcome.errors.append(f"{turn.step}: no answer from the bot ({ack})")
                    break
                outcome.replies.append([r["message"]["text"] or "" for r in replies])
        return outcome

    async def worker(number: int) -> None:
        nonlocal next_index
        if args.think:
            await asyncio.sleep(args.think * random.Random(number).random())
        while next_index < len(convs) and time.perf_counter() < deadline:
            script = convs[next_index]
            next_index += 1
            outcomes.append(await talk(script))

    await asyncio.gather(*(worker(number) for number in range(args.concurrency)))
    seconds = time.perf_counter() - started
    latencies = [latency for outcome in outcomes for latency in outcome.latencies]
    phase = summarise(latencies, errors, seconds, cpu.since(cpu_before), next_index < len(convs))
    return phase, outcomes


@dataclass
class Round:
    direct: Phase
    widget: Phase


@dataclass
class Run:
    model: str
    rounds: list[Round] = field(default_factory=list)
    conversations: int = 0
    tickets: int = 0

    def median(self, phase: str, name: str, process: str | None = None) -> float:
        return median_of(self.rounds, phase, name, process)


async def drive(stack: processes.Stack, run: Run, args: argparse.Namespace) -> None:
    cpu = CpuMeter(stack.pids)
    ws_url = stack.api_url.replace("http://", "ws://") + "/channels/web/ws"
    limits = httpx.Limits(max_connections=args.concurrency)
    headers = {"Authorization": f"Bearer {processes.SERVICE_TOKEN}"}
    async with (
        httpx.AsyncClient(base_url=stack.rasa_url or "", limits=limits, timeout=60) as rasa,
        httpx.AsyncClient(base_url=f"{stack.api_url}/api/v1", headers=headers, timeout=60) as api,
    ):

        async def checked(label: str, outcomes: list[Outcome]) -> None:
            problems = await verify(rasa, api, outcomes)
            run.conversations += len(outcomes)
            run.tickets += sum(1 for o in outcomes if o.ref)
            if problems:
                shown = "\n  ".join(problems[:8])
                raise BrokenFlow(f"{label}: {len(problems)} problems:\n  {shown}")

        if args.warmup:
            convs = conversations("warmup", args.warmup, seed=0)
            await checked("warm-up direct", (await run_phase(rasa, convs, args, cpu, REPLY))[1])
            warm = conversations("warmup-w", args.warmup, seed=0)
            await checked("warm-up widget", (await widget_phase(ws_url, warm, args, cpu))[1])
            log(f"warm-up: {2 * args.warmup} conversations reached their tickets")
        for number in range(1, args.rounds + 1):
            direct, outcomes = await run_phase(
                rasa, conversations(f"r{number}", args.conversations, seed=number), args, cpu,
                REPLY,
            )  # fmt: skip
            await checked(f"round {number} direct", outcomes)
            report_phase(number, "direct", direct)
            widget, outcomes = await widget_phase(
                ws_url, conversations(f"r{number}-w", args.conversations, seed=number), args, cpu
            )
            await checked(f"round {number} widget", outcomes)
            report_phase(number, "widget", widget)
            run.rounds.append(Round(direct, widget))


def report_phase(number: int, name: str, phase: Phase) -> None:
    log(
        f"round {number} {name:6} {phase.requests:5} turns  p50 {phase.p50_ms:6.1f}  "
        f"p95 {phase.p95_ms:6.1f}  p99 {phase.p99_ms:6.1f} ms  errors {phase.errors}  "
        f"other load {phase.other_cpus:.2f} CPU"
    )


def report(run: Run, args: argparse.Namespace) -> bool:
    print(
        f"\n{args.concurrency} concurrent customers, {args.conversations} conversations × "
        f"{len(STEPS)} turns per phase, "
        f"think time {args.think:g} s, median of {args.rounds} round(s); {os.cpu_count()} "
        f"CPU(s), Python {platform.python_version()}\nmodel {run.model}\n"
    )
    print(
        f"{'phase':<8}{'turns':>7}{'errors':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'mean ms':>9}   CPU ms/turn: " + " ".join(f"{p:>7}" for p in PROCESS_NAMES)
    )
    for phase in ("direct", "widget"):
        turns = sum(getattr(r, phase).requests for r in run.rounds)
        errors = sum(getattr(r, phase).errors for r in run.rounds)
        cpu = " ".join(f"{run.median(phase, 'cpu_ms', p):>7.1f}" for p in PROCESS_NAMES)
        print(
            f"{phase:<8}{turns:>7}{errors:>7}"
            + "".join(
                f"{run.median(phase, key):>9.1f}"
                for key in ("p50_ms", "p95_ms", "p99_ms", "mean_ms")
            )
            + f"{'':16}{cpu}"
        )
    ratios = {
        key: run.median("widget", key) / run.median("direct", key)
        for key in ("p50_ms", "p95_ms", "p99_ms", "mean_ms")
    }
    print(f"{'ratio':<8}{'widget/direct':>14}" + "".join(f"{v:>9.2f}" for v in ratios.values()))
    print("(CPU of `api` includes the gateway, which runs in the API's process)")
    met = ratios["p95_ms"] <= TARGET_RATIO
    verdict = "PASS" if met else "FAIL"
    if args.concurrency != TARGET_CONCURRENCY:
        verdict += f" (the target is set at {TARGET_CONCURRENCY}, this ran {args.concurrency})"
    print(
        f"\nflow: {run.tickets} of {run.conversations} conversations (warm-up included) "
        f"created their ticket, every turn on the scripted path"
    )
    print(
        f"target: widget p95 ≤ {TARGET_RATIO}× direct p95 at {TARGET_CONCURRENCY} concurrent "
        f"customers: {ratios['p95_ms']:.2f}×  {verdict}"
    )
    return met


def bench(args: argparse.Namespace) -> Run:
    workdir = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    keep = args.keep
    try:
        model, name = snapshot_model(workdir)
        run = Run(model=name)
        log("starting the API (with the gateway), the action server and Rasa …")
        with stdout_to_stderr(), contextlib.ExitStack() as servers:
            stack = servers.enter_context(processes.stack(workdir / "var", model=model))
            asyncio.run(drive(stack, run, args))
    except Exception:
        keep = True
        log(f"kept for inspection: {workdir / 'var'}")
        raise
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return run


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--conversations", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=TARGET_CONCURRENCY)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--think", type=float, default=3.0, metavar="SECONDS")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--time-limit", type=float, default=900)
    parser.add_argument("--json", type=Path, help="also write the per-round figures here")
    parser.add_argument("--keep", action="store_true", help="keep the servers' logs")
    parser.add_argument("--check", action="store_true", help="exit 1 if the target is missed")
    args = parser.parse_args(argv)
    if min(args.conversations, args.concurrency, args.rounds) < 1 or args.think < 0:
        parser.error("--conversations, --concurrency, --rounds ≥ 1; --think ≥ 0")
    return args


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        run = bench(args)
    except KeyboardInterrupt:
        log("interrupted: servers stopped")
        return 130
    except BrokenFlow as exc:
        log(f"\nFLOW BROKEN — no figures reported.\n{exc}")
        return 2
    met = report(run, args)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in run.rounds], indent=2))
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
