"""The lineage package's use cases, in one place for other packages to import.

Every public function taking ``db`` owns its transaction and writes its audit entry in it.
Functions taking ``session`` (``record_run`` and the ``*_ref`` helpers) work inside the caller's
transaction, so that a monitor or retrain job links its run into the graph atomically with its
own writes. The implementations live in ``registry`` (datasets, models, aliases), ``upload``
(dataset bytes sent to Steward), ``serving`` (endpoints, deployments), ``runs`` (runs, node
handles), ``query`` (graph queries) and ``openlineage`` (ingest and export); they reach the
database only through ``lineage.stores``; ``cards`` holds model cards.
"""

from __future__ import annotations

from lineage.cards import model_card, update_model_card
from lineage.registry import (
    delete_alias,
    get_dataset_version,
    get_model_version,
    list_dataset_versions,
    list_datasets,
    list_model_versions,
    list_models,
    record_dataset_version,
    register_dataset_version,
    register_model_version,
    set_alias,
)
from lineage.runs import (
    dataset_version_ref,
    endpoint_ref,
    get_run,
    list_jobs,
    log_run,
    model_version_ref,
    new_run_id,
    node_ref,
    record_run,
)
from lineage.serving import (
    create_endpoint,
    deploy,
    find_deployment_at,
    find_endpoint,
    get_endpoint,
    get_model_version_by_id,
    list_deployments,
    list_endpoints,
    serving_version_id,
)
from lineage.upload import remove_upload_leftovers, upload_dataset_version

__all__ = [
    "create_endpoint",
    "dataset_version_ref",
    "delete_alias",
    "deploy",
    "endpoint_ref",
    "find_deployment_at",
    "find_endpoint",
    "get_dataset_version",
    "get_endpoint",
    "get_model_version",
    "get_model_version_by_id",
    "get_run",
    "list_dataset_versions",
    "list_datasets",
    "list_deployments",
    "list_endpoints",
    "list_jobs",
    "list_model_versions",
    "list_models",
    "log_run",
    "model_card",
    "model_version_ref",
    "new_run_id",
    "node_ref",
    "record_dataset_version",
    "record_run",
    "register_dataset_version",
    "register_model_version",
    "remove_upload_leftovers",
    "serving_version_id",
    "set_alias",
    "update_model_card",
    "upload_dataset_version",
]
