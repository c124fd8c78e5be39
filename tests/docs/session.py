"""A page's run: a fresh Steward home and server, one shell session, one Python namespace."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.docs.driver import DONE

BIN = Path(sys.executable).parent
DRIVER = Path(__file__).with_name("driver.py")
ROOT = Path(__file__).resolve().parents[2]
BLOCK_TIMEOUT = 120.0


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Interpreter:
    """A child process fed one block at a time; its output is read up to a done line."""

    def __init__(self, args: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            args, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, command: str, timeout: float = BLOCK_TIMEOUT) -> tuple[bool, str]:
        """Write ``command``; collect output until the done line, an exit or the timeout."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return False, "(the session had already exited)"
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    return False, "".join(out) + f"(exited with {self.proc.returncode})"
                continue
            if line is None:
                return False, "".join(out) + f"(exited with {self.proc.wait()})"
            at = line.find(DONE)  # output without a final newline shares the done line
            if at >= 0:
                out.append(line[:at])
                return bool(json.loads(line[at + len(DONE) :])["ok"]), "".join(out)
            out.append(line)
        return False, "".join(out) + f"(timed out after {timeout:.0f} s)"

    def close(self) -> None:
        """Stop the child and everything it started in the background."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@dataclass(kw_only=True)
class PageRun:
    """The shell and Python sessions of one page, created on first use."""

    cwd: Path
    env: dict[str, str]
    shell: Interpreter | None = None
    python: Interpreter | None = None
    count: int = 0
    closers: list[Interpreter] = field(default_factory=list)

    def _file(self, code: str, suffix: str) -> Path:
        self.count += 1
        path = self.cwd.parent / "blocks" / f"{self.count:03d}{suffix}"
        path.parent.mkdir(exist_ok=True)
        path.write_text(code)
        return path

    def _shell(self) -> Interpreter:
        if self.shell is None:
            self.shell = Interpreter(["bash", "--noprofile", "--norc"], cwd=self.cwd, env=self.env)
            self.closers.append(self.shell)
            self.shell.send(f"set -euo pipefail; echo '{DONE} {{\"ok\": true}}'")
        return self.shell

    def run_shell(self, code: str, name: str) -> tuple[bool, str]:
        """Source the block in the page's shell (``set -euo pipefail``; stdin is empty)."""
        path = self._file(code, ".sh")
        done = f'echo "{DONE} {{\\"ok\\": true}}"'
        return self._shell().send(f"source {path} </dev/null  # {name}\n{done}")

    def _shell_env(self) -> dict[str, str]:
        """The environment the shell session has exported so far (Python blocks start in it)."""
        if self.shell is None:
            return self.env
        dump = self.cwd.parent / "env.json"
        self.shell.send(f"{sys.executable} -c 'import json,os; print(json.dumps(dict(os.environ)))'"
                        f" > {dump}; echo '{DONE} {{\"ok\": true}}'")  # fmt: skip
        return dict(json.loads(dump.read_text()))

    def run_python(self, code: str, name: str) -> tuple[bool, str]:
        """Execute the block in the page's Python namespace (a child started on first use)."""
        if self.python is None:
            self.python = Interpreter([sys.executable, "-u", str(DRIVER)], cwd=self.cwd,
                                      env=self._shell_env())  # fmt: skip
            self.closers.append(self.python)
        path = self._file(code, ".py")
        return self.python.send(f"{path}\t{name}")

    def close(self) -> None:
        """Stop both sessions and their background processes."""
        for interpreter in self.closers:
            interpreter.close()


PG_URL = os.environ.get("STEWARD_TEST_DATABASE_URL", "")
IS_PG = PG_URL.startswith("postgres")


def _pg_admin(sql: str) -> None:
    from sqlalchemy import create_engine, text

    from governance.core.db import normalise_url

    admin = normalise_url(PG_URL).rsplit("/", 1)[0] + "/postgres"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


def _pg_url(name: str) -> str:
    return PG_URL.rsplit("/", 1)[0] + f"/{name}"


@contextmanager
def database(template: str | None = None) -> Iterator[dict[str, str]]:
    """The environment naming a fresh database: SQLite in the home, or a new PostgreSQL one
    (a copy of ``template`` when given)."""
    if not IS_PG:
        yield {}
        return
    name = f"steward_docs_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    _pg_admin(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield {"STEWARD_DATABASE_URL": _pg_url(name)}
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def superuser_names() -> Iterator[dict[str, str]]:
    """For blocks marked postgres: psql's connection, and names of a role and database they may
    create (unique, dropped afterwards, since roles belong to the whole cluster)."""
    from sqlalchemy.engine import make_url

    from governance.core.db import normalise_url

    url = make_url(normalise_url(PG_URL))
    tag = uuid.uuid4().hex[:8]
    names = {"OWNER": f"docs_owner_{tag}", "APP": f"docs_app_{tag}", "DB": f"docs_db_{tag}"}
    conn = {
        "PGHOST": url.host or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "postgres",
        "PGDATABASE": url.database or "postgres",
    }
    try:
        yield {**conn, **names}
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{names["DB"]}" WITH (FORCE)')
        _pg_admin(f'DROP ROLE IF EXISTS "{names["APP"]}"')
        _pg_admin(f'DROP ROLE IF EXISTS "{names["OWNER"]}"')


@dataclass(frozen=True, kw_only=True, slots=True)
class Template:
    """A home ``steward init`` made once per session; pages start from copies of it."""

    home: Path
    token: str
    database: str | None  # the PostgreSQL template database, if any


@contextmanager
def template(root: Path) -> Iterator[Template]:
    """Initialise one home (and database) for the session's pages to copy."""
    root.mkdir(parents=True, exist_ok=True)
    with database() as db_env:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")}
        env.update(PATH=f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}",
                   STEWARD_HOME=str(root / ".steward"), **db_env)  # fmt: skip
        token = init_home(env, root)
        name = db_env.get("STEWARD_DATABASE_URL", "").rsplit("/", 1)[-1] or None
        yield Template(home=root / ".steward", token=token, database=name)


def base_env(tmp: Path, db_env: dict[str, str]) -> dict[str, str]:
    """What every block sees: the venv first on PATH, a private HOME, a fresh STEWARD_HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")}
    (tmp / "user").mkdir(parents=True)
    env.update(
        PATH=f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}",
        HOME=str(tmp / "user"),
        XDG_CONFIG_HOME=str(tmp / "user" / ".config"),
        STEWARD_HOME=str(tmp / "work" / ".steward"),
        COLUMNS="200",
        PYTHONPATH=str(ROOT),
        **db_env,
    )
    if db_env:  # roles belong to the whole cluster: a page's init makes none unless it asks
        env["STEWARD_DB_APP_ROLE"] = ""
    return env


def init_home(env: dict[str, str], cwd: Path) -> str:
    """``steward init`` in the page's home; the owner token it printed."""
    admin = {**env, "STEWARD_DB_APP_ROLE": ""}  # test databases: no cluster-wide role
    out = subprocess.run(["steward", "init"], cwd=cwd, env=admin, capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    found = re.search(r"^(stw_\S+)$", out, re.MULTILINE)
    assert found, out
    return found.group(1)


@contextmanager
def server(env: dict[str, str], cwd: Path, extra: dict[str, str]) -> Iterator[str]:
    """A real ``steward serve`` on a free port; its URL."""
    port = free_port()
    log = (cwd.parent / "serve.log").open("w")
    proc = subprocess.Popen(
        ["steward", "serve", "--port", str(port)], cwd=cwd, env={**env, **extra},
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, cwd.parent / "serve.log")
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"steward serve exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"steward serve did not answer:\n{log.read_text()}")
