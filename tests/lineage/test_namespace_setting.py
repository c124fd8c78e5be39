"""STEWARD_LINEAGE_NAMESPACE_MAP routes an emitter's namespace to a project."""

from __future__ import annotations

from governance.core.settings import Settings
from steward.api.app import build_services


def test_namespace_map_from_the_environment(monkeypatch, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("STEWARD_LINEAGE_NAMESPACE_MAP", '{"airflow-prod": "alpha"}')
    configured = Settings(home=settings.home, database_url=settings.database_url)
    assert configured.lineage_namespace_map == {"airflow-prod": "alpha"}
    svc = build_services(configured)
    try:
        assert svc.namespace_map == {"airflow-prod": "alpha"}
    finally:
        svc.db.dispose()
