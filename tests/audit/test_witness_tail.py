"""A start learns how far the file witness was told from the file's tail, not by reading it all."""

from __future__ import annotations

import json
from pathlib import Path

from governance.audit.witness import TAIL_BYTES, FileWitness, Witnesses


def _note(size: int) -> str:
    return f"steward.example/audit\n{size}\nroot{size:08d}=\n\n— sig\n"


def test_the_newest_size_comes_from_the_tail_of_a_long_file(tmp_path: Path) -> None:
    witness = FileWitness(tmp_path)
    lines = [json.dumps({"note": _note(n)}) for n in range(1, 20_001)]
    # two processes' appends can land out of order: the tail's largest size counts
    lines[-1], lines[-2] = lines[-2], lines[-1]
    witness.path.write_text("\n".join(lines) + "\n")
    assert witness.path.stat().st_size > 10 * TAIL_BYTES
    assert witness.newest_size() == 20_000
    status = {s.name: s.size for s in Witnesses(witness).status()}
    assert status == {witness.name: 20_000}
    assert len(witness.notes()) == 20_000  # verify still reads every note


def test_a_missing_or_damaged_tail_counts_as_nothing_told(tmp_path: Path) -> None:
    witness = FileWitness(tmp_path)
    assert witness.newest_size() == 0 and not witness.path.exists()
    witness.path.write_text('{"note": "not a checkpoint"}\nnot json\n')
    assert witness.newest_size() == 0  # verify reports the damage; a start just re-tells
    witness.publish(_note(7))
    assert witness.newest_size() == 7
