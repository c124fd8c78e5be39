"""A parent with everything imported that forks audit writers on request, for the crash test.

usage: python -m tests.audit.zygote DATABASE_URL KEY_PATH
Each line ``PATH`` on stdin forks a writer and answers with its pid. The writer appends one entry
per transaction until it is killed and, after each acknowledged (committed) append, adds
``seq hash`` to PATH. Forking a warm parent spares each writer the interpreter start and the
imports (most of a second of CPU) that a fresh process would pay.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

from governance.audit.service import configure_audit, record_audit
from governance.audit.signing import Signer
from governance.core.db import Database


def append_until_killed(url: str, key: Path, acks: str) -> NoReturn:
    """Append entries forever, recording each acknowledgement in the file ``acks``."""
    db = Database(url)
    configure_audit(db, signer=Signer.load_or_create(key, origin="test/audit"), checkpoint_every=16)
    out = os.open(acks, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    count = 0
    while True:
        with db.transaction() as session:
            entry = record_audit(
                session, actor=f"writer-{os.getpid()}", action="test.append", details={"i": count}
            )
        # One write per line: a kill leaves a line whole or absent, never half written.
        os.write(out, f"{entry.seq} {entry.hash}\n".encode())
        count += 1


def main() -> None:
    """Fork one writer per line of standard input; print each writer's pid."""
    url, key = sys.argv[1], Path(sys.argv[2])
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps killed writers
    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            try:
                append_until_killed(url, key, line.strip())
            finally:
                os._exit(1)
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
