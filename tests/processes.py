"""Real processes for tests and benchmarks: the API (uvicorn), the action server and the
Rasa server, each started as the Procfile starts it, on free ports of 127.0.0.1.

Standard library + httpx only: both environments import this module (.venv runs the API
tests, .venv-rasa the action tests), and each process runs in its own environment.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
API_PYTHON = ROOT / ".venv" / "bin" / "python"
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
MODEL = ROOT / "models" / "current.tar.gz"
SERVICE_TOKEN = "test-service-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, *, timeout: float, name: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode} before answering {url}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not answer {url} within {timeout:.0f} s")
        time.sleep(0.25)


@contextmanager
def running(cmd: list[str], env: dict[str, str], url: str, name: str, timeout: float, log: Path):
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until_up(url, proc, timeout=timeout, name=f"{name} (log: {log})")
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Stack:
    api_url: str
    action_url: str | None
    rasa_url: str | None
    env: dict[str, str]
    pids: dict[str, int]  # "api", "actions", "rasa": the servers' process ids


def base_env(var_dir: Path, database_url: str | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "DATABASE_URL", "VIRTUAL_ENV", "PYTHONHOME")
    }
    env.update(
        VAR_DIR=str(var_dir),
        SERVICE_TOKEN=SERVICE_TOKEN,
        DEMO_DATA="true",
        SLA_CHECK_SECONDS="0",
        RASA_TELEMETRY_ENABLED="false",
        PYTHONPATH=str(ROOT),
        SANIC_HOST="127.0.0.1",  # the action server's address, as in the Procfile
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def api_command(port: int) -> list[str]:
    return [str(API_PYTHON), "-m", "uvicorn", "api.main:app", "--port", str(port)]


def gateway_command(port: int) -> list[str]:
    return [str(API_PYTHON), "-m", "uvicorn", "bot.gateway:app", "--port", str(port)]


def action_command(port: int) -> list[str]:
    return [str(RASA_PYTHON), "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)]


def rasa_command(port: int, model: Path = MODEL) -> list[str]:
    return [str(RASA_PYTHON), "-m", "bot.rasa_server", "run", "--enable-api",
            "-i", "127.0.0.1", "--port", str(port), "--model", str(model),
            "--credentials", "credentials.yml", "--endpoints", "endpoints.yml"]  # fmt: skip


@contextmanager
def rasa_server(stack: Stack, log: Path, model: Path = MODEL) -> Iterator[subprocess.Popen]:
    """A Rasa server on the stack's Rasa port (to start one again after a crash)."""
    port = int(stack.env["RASA_URL"].rsplit(":", 1)[1])
    with running(rasa_command(port, model), stack.env, f"{stack.env['RASA_URL']}/status",
                 "Rasa", 180, log) as proc:  # fmt: skip
        yield proc


@contextmanager
def gateway(stack: Stack, log: Path, **env: str) -> Iterator[str]:
    """A gateway in a process of its own (scaled out: it needs REDIS_URL); its URL."""
    port = free_port()
    with running(gateway_command(port), {**stack.env, **env}, f"http://127.0.0.1:{port}/",
                 "gateway", 60, log):  # fmt: skip
        yield f"http://127.0.0.1:{port}"


@contextmanager
def stack(
    var_dir: Path,
    *,
    database_url: str | None = None,
    rasa: bool = True,
    actions: bool = True,
    model: Path = MODEL,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """The API (migrated, demo catalogue, the gateway mounted), and optionally the action
    server and Rasa (started as the Procfile starts it, with `model`). `extra_env`: more
    configuration of the processes (e.g. the channels' doubles)."""
    var_dir.mkdir(parents=True, exist_ok=True)
    env = base_env(var_dir, database_url)
    env.update(extra_env or {})
    subprocess.run([str(API_PYTHON), "-m", "api", "migrate"], cwd=ROOT, env=env, check=True)
    api_port, action_port, rasa_port = free_port(), free_port(), free_port()
    env.update(API_URL=f"http://127.0.0.1:{api_port}", API_PORT=str(api_port))
    env["ACTION_SERVER_URL"] = f"http://127.0.0.1:{action_port}/webhook"
    env["RASA_URL"] = f"http://127.0.0.1:{rasa_port}"  # for the gateway the API mounts
    api_cmd = api_command(api_port)
    action_cmd = action_command(action_port)
    rasa_cmd = rasa_command(rasa_port, model)
    with running(api_cmd, env, f"{env['API_URL']}/healthz", "API", 60,
                 var_dir / "api.log") as api:  # fmt: skip
        pids = {"api": api.pid}
        if not actions:
            yield Stack(env["API_URL"], None, None, env, pids)
            return
        action_url = f"http://127.0.0.1:{action_port}"
        with running(action_cmd, env, f"{action_url}/health", "action server", 90,
                     var_dir / "actions.log") as action_server:  # fmt: skip
            pids["actions"] = action_server.pid
            if not rasa:
                yield Stack(env["API_URL"], action_url, None, env, pids)
                return
            rasa_url = f"http://127.0.0.1:{rasa_port}"
            with running(rasa_cmd, env, f"{rasa_url}/status", "Rasa", 180,
                         var_dir / "rasa.log") as rasa_server:  # fmt: skip
                pids["rasa"] = rasa_server.pid
                yield Stack(env["API_URL"], action_url, rasa_url, env, pids)


def service_client(stack: Stack) -> httpx.Client:
    """The API as the bot's processes see it (the service token)."""
    return httpx.Client(
        base_url=f"{stack.api_url}/api/v1",
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
    )


def staff_client(stack: Stack, name: str, role: str, password: str) -> httpx.Client:
    """A staff account created with the CLI (as the README shows), logged in."""
    subprocess.run(
        [str(API_PYTHON), "-m", "api", "create-user", name, "--role", role,
         "--password", password],
        cwd=ROOT, env=stack.env, check=True, capture_output=True,
    )  # fmt: skip
    token = httpx.post(
        f"{stack.api_url}/api/v1/auth/token", data={"username": name, "password": password}
    ).json()["access_token"]
    return httpx.Client(
        base_url=f"{stack.api_url}/api/v1", headers={"Authorization": f"Bearer {token}"}
    )
