"""Tables of retrain.approvals (ORM rows; they never leave the store)."""

from __future__ import annotations
