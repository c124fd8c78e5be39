"""A separate audit-writing process for the concurrency and crash tests.

usage: python -m tests.audit.writer DATABASE_URL KEY_PATH COUNT [EVERY]
Prints ``seq hash`` after each acknowledged (committed) append.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from governance.audit.service import configure_audit, record_audit
from governance.audit.signing import Signer
from governance.core.db import Database


def main() -> None:
    """Append COUNT entries, one transaction each, printing each acknowledgement."""
    url, key, count = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    every = int(sys.argv[4]) if len(sys.argv) > 4 else 16
    db = Database(url)
    configure_audit(
        db, signer=Signer.load_or_create(key, origin="test/audit"), checkpoint_every=every
    )
    for i in range(count):
        with db.transaction() as session:
            entry = record_audit(
                session, actor=f"writer-{os.getpid()}", action="test.append", details={"i": i}
            )
        sys.stdout.write(f"{entry.seq} {entry.hash}\n")
        sys.stdout.flush()
    db.dispose()


if __name__ == "__main__":
    main()
