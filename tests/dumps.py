"""Everything a database holds, as text: for tests that prove a secret is never stored."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import inspect, text

from governance.core.db import Database


def sqlite_dump(db: Database) -> str:
    """The logical dump plus the raw bytes of the file and its WAL."""
    path = Path(db.url.removeprefix("sqlite:///"))
    conn = sqlite3.connect(path)
    try:
        logical = "\n".join(conn.iterdump())
    finally:
        conn.close()
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())
    return logical + "\n" + raw.decode("latin-1")


def postgres_dump(db: Database) -> str:
    """The text form of every row of every table."""
    parts: list[str] = []
    with db.engine.connect() as conn:
        for name in inspect(db.engine).get_table_names():
            parts.extend(conn.execute(text(f'SELECT t::text FROM "{name}" AS t')).scalars())
    return "\n".join(parts)


def dump(db: Database) -> str:
    """Whichever of the two fits the backend."""
    return sqlite_dump(db) if db.is_sqlite else postgres_dump(db)
