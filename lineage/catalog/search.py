"""Full-text search of catalogue entries: PostgreSQL's text search in SQL, SQLite's FTS5.

On PostgreSQL the query runs where the rows are (``to_tsvector`` @@ ``websearch_to_tsquery``,
ranked by ``ts_rank``). On SQLite the visible, filtered candidates are ranked by FTS5 (porter
stemming, BM25) in a private in-memory index built for the query: a persistent FTS5 table would
add shadow tables beside the ORM schema, and a catalogue is small (its entries are models, not
rows of data). Without FTS5 in the SQLite build, every term must occur in the text (LIKE-like).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from uuid import UUID

_TOKEN = re.compile(r'"([^"]*)"|(\S+)')
_WORD = re.compile(r"\w+", re.UNICODE)


def _quoted(words: Sequence[str]) -> str:
    return '"' + " ".join(words) + '"'


def fts5_query(text: str) -> str | None:
    """Translate web-search syntax ("a phrase", -excluded, or) into an FTS5 query; None when
    nothing positive is left to search for."""
    groups: list[list[str]] = [[]]  # OR of ANDs
    negated: list[str] = []
    for phrase, bare in _TOKEN.findall(text):
        if bare.lower() == "or":
            if groups[-1]:
                groups.append([])
            continue
        negate = bare.startswith("-")
        words = _WORD.findall(phrase or bare)
        if not words:
            continue
        (negated if negate else groups[-1]).append(_quoted(words))
    ands = [" AND ".join(g) for g in groups if g]
    if not ands:
        return None
    query = " OR ".join(f"({a})" for a in ands)
    return query + "".join(f" NOT {n}" for n in negated)


def _has_fts5() -> bool:
    conn = sqlite3.connect(":memory:")
    try:
        return any("FTS5" in row[0] for row in conn.execute("PRAGMA compile_options"))
    finally:
        conn.close()


HAS_FTS5 = _has_fts5()


def rank_documents(
    documents: Sequence[tuple[UUID, str]], text: str, *, fts5: bool = HAS_FTS5
) -> list[tuple[UUID, float]]:
    """The documents matching ``text``, best first, with a rank (higher is better)."""
    query = fts5_query(text)
    if query is None or not documents:
        return []
    if not fts5:
        return _rank_plainly(documents, text)
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE VIRTUAL TABLE doc USING fts5(body, tokenize='porter unicode61')")
        conn.executemany(
            "INSERT INTO doc(rowid, body) VALUES (?, ?)",
            ((i, body) for i, (_, body) in enumerate(documents)),
        )
        rows = conn.execute(
            "SELECT rowid, bm25(doc) FROM doc WHERE doc MATCH ? ORDER BY bm25(doc), rowid",
            (query,),
        ).fetchall()
    finally:
        conn.close()
    return [(documents[i][0], -float(score)) for i, score in rows]


def _rank_plainly(documents: Sequence[tuple[UUID, str]], text: str) -> list[tuple[UUID, float]]:
    # The fallback: every positive word must occur and no excluded one; more occurrences rank
    # higher. Its "or" is an "and": without FTS5 search is narrower, never wider.
    words: list[str] = []
    excluded: list[str] = []
    for phrase, bare in _TOKEN.findall(text):
        if bare.lower() == "or":
            continue
        found_words = [w.lower() for w in _WORD.findall(phrase or bare)]
        (excluded if bare.startswith("-") else words).extend(found_words)
    found: list[tuple[UUID, float]] = []
    for entry_id, body in documents:
        lowered = body.lower()
        if all(w in lowered for w in words) and not any(w in lowered for w in excluded):
            found.append((entry_id, float(sum(lowered.count(w) for w in words))))
    return sorted(found, key=lambda item: -item[1])
