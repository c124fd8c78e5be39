"""Tables of retrain.rollout (ORM rows; they never leave the store)."""

from __future__ import annotations
