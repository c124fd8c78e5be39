"""Tables of retrain.pipelines (ORM rows; they never leave the store)."""

from __future__ import annotations
