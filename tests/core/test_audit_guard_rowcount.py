"""The audit guard counts statements that changed rows, not statements that matched none."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from governance.access import service as access
from governance.core.db import Database
from governance.core.errors import AuditMissing
from governance.core.principal import SYSTEM
from steward.migrations import upgrade


def test_an_update_that_matched_no_row_needs_no_audit_entry(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'guard.db'}")
    upgrade(db)
    with db.transaction() as session:  # lost a race: the row moved on meanwhile
        session.execute(text("UPDATE retrain_evaluations SET error = 'x' WHERE 1 = 0"))
    assert access.bootstrap(db, owner="ann", project="alpha", actor=SYSTEM) is not None
    with pytest.raises(AuditMissing), db.transaction() as session:  # one row changed, unaudited
        session.execute(text("UPDATE access_projects SET name = name"))
