"""The REST application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from governance.access.enforcer import PolicyEngine
from governance.access.oidc import JwtVerifier
from governance.access.service import sync_policy
from governance.audit.runtime import open_audit
from governance.audit.sealer import Sealer
from governance.core.clock import Clock, SystemClock
from governance.core.db import Database
from governance.core.settings import Settings
from monitors.capture.service import clean_leftovers
from monitors.runs.sources import RunEnvironment
from monitors.runs.worker import BackfillWorker
from retrain.artifacts.store import remove_incoming_leftovers
from retrain.evaluation.service import finished_callback
from retrain.loop import release_callback
from retrain.pipelines.schemas import PipelineRun
from retrain.pipelines.worker import PipelineWorker
from retrain.runners.base import StepRunner
from steward.api import docs, errors
from steward.api.deps import Services
from steward.api.middleware import (
    BodyLimitMiddleware,
    HttpMetricsMiddleware,
    InputGuardMiddleware,
    RequestContextMiddleware,
)
from steward.api.ratelimit import RateLimiter
from steward.api.routes import all_routers
from steward.console import install_console
from steward.environment import run_environment
from steward.metrics import HttpMetrics
from steward.migrations import ensure_current

log = logging.getLogger("steward")
# Inference and label uploads and dataset files: bulk bodies get their own, larger limit.
INGEST_PATHS = (
    r"^/api/v1/projects/[^/]+/(endpoints/[^/]+/(inferences|labels)"
    r"|datasets/[^/]+/versions/[^/]+/file)$"
)
ARTIFACT_PATHS = r"^/api/v1/projects/[^/]+/models/[^/]+/versions/[^/]+/artifact$"


def build_services(
    settings: Settings, *, db: Database | None = None, clock: Clock | None = None
) -> Services:
    """Wire the collaborators every request uses; refuses a schema that is behind."""
    db = db or Database(settings.database_url)
    ensure_current(db)
    clean_leftovers(db, settings)  # files that writers killed mid-way left
    if settings.artifact_dir is not None:
        remove_incoming_leftovers(settings.artifact_dir)
    signer, witnesses = open_audit(db, settings)
    policy = PolicyEngine(settings.policy_dir, reload_seconds=settings.policy_reload_seconds)
    sync_policy(db, policy)
    return Services(
        settings=settings,
        db=db,
        policy=policy,
        signer=signer,
        witnesses=witnesses,
        limiter=RateLimiter(
            per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst
        ),
        jwt=JwtVerifier.from_settings(settings),
        clock=clock or SystemClock(),
        namespace_map=dict(settings.lineage_namespace_map),
        access_cache_seconds=settings.access_cache_seconds,
    )


def _run_env(svc: Services) -> Callable[[], RunEnvironment]:
    def build() -> RunEnvironment:
        return run_environment(svc.db, svc.settings, clock=svc.clock)

    return build


PipelineCallback = Callable[[PipelineRun], None]


def _pipeline_worker(
    svc: Services, runner: StepRunner | None, callbacks: Sequence[PipelineCallback]
) -> tuple[PipelineWorker | None, StepRunner | None]:
    """The worker executing queued pipeline runs, and the runner the app made for it (if any)."""
    if not svc.settings.pipeline_worker:
        return None, None
    owned = None
    if runner is None:
        from retrain.runners.select import runner_for

        runner = owned = runner_for(svc.settings)
    worker = PipelineWorker(
        svc.db, settings=svc.settings, runner=runner, clock=svc.clock, on_finished=callbacks
    )
    return worker, owned


def _released(svc: Services, run: PipelineRun) -> None:
    """A release may have deployed: this server's scorer looks the endpoint up anew."""
    if run.plan is not None:
        svc.endpoint_changed(run.project, run.plan.endpoint)


def _lifespan(
    svc: Services,
    seal_in_background: bool,
    backfill_env: Callable[[], RunEnvironment],
    pipeline_runner: StepRunner | None = None,
    pipeline_callbacks: Sequence[PipelineCallback] = (),
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """What the app starts (sealer, backfill and pipeline workers) and stops, in order."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sealer = Sealer(svc.db, interval=svc.settings.checkpoint_interval_seconds)
        svc.sealer = sealer
        if seal_in_background:
            sealer.start()
        backfills = BackfillWorker(svc.db, env=backfill_env, clock=svc.clock)
        app.state.backfills = backfills
        backfills.start()
        pipelines, owned = _pipeline_worker(svc, pipeline_runner, pipeline_callbacks)
        app.state.pipelines = pipelines
        if pipelines is not None:
            pipelines.start()
        yield
        if pipelines is not None:
            pipelines.stop()  # the run it executes ends first
        if owned is not None:
            owned.close()
        backfills.stop()  # its window finishes, its backfill goes back to the queue
        if svc.scorer is not None:
            svc.scorer.close()  # rollout counts and scored rows still held are stored
        svc.auth_failures.flush()  # before the last seal, so the counted failures are sealed too
        if seal_in_background:
            sealer.stop()

    return lifespan


def create_app(
    settings: Settings | None = None,
    *,
    services: Services | None = None,
    seal_in_background: bool = True,
    backfill_env: Callable[[], RunEnvironment] | None = None,
    pipeline_callbacks: Sequence[PipelineCallback] | None = None,
    pipeline_runner: StepRunner | None = None,
) -> FastAPI:
    """Build the app (``uvicorn --factory steward.api.app:create_app`` also works).

    ``backfill_env`` builds the collaborators of the backfills the app's worker runs (default:
    the configured stores). With ``settings.pipeline_worker`` the app executes queued pipeline
    runs on ``pipeline_runner`` (default: ``retrain.runners.select.runner_for``) and hands each
    ended run to ``pipeline_callbacks`` (default: the release loop, which gates a run's model and
    deploys it or asks for approval).
    """
    svc = services or build_services(settings or Settings())
    if pipeline_callbacks is None:
        release = release_callback(svc.db, settings=svc.settings, clock=svc.clock)
        evaluation = finished_callback(svc.db, clock=svc.clock)
        pipeline_callbacks = [release, lambda run: _released(svc, run), evaluation]
    app = FastAPI(
        title="Steward",
        version="0.1.0",
        description="Self-hosted MLOps monitoring, governance and responsible AI.",
        lifespan=_lifespan(
            svc,
            seal_in_background,
            backfill_env or _run_env(svc),
            pipeline_runner,
            pipeline_callbacks,
        ),
        docs_url=None,
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.services = svc
    app.state.http_metrics = HttpMetrics()  # this app's own registry: apps never share series
    errors.install(app)
    docs.install_docs(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = errors.json_error_bodies(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    for router in all_routers():
        app.include_router(router)
    install_console(app)  # last: its catch-all must not shadow an API route
    _add_middleware(app, svc.settings)
    return app


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    """The middleware stack, innermost first: input guard, body limits, request context, metrics."""
    app.add_middleware(InputGuardMiddleware)  # inside the body limit, which bounds its buffer
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_body_bytes,
        overrides=[
            (INGEST_PATHS, settings.max_ingest_body_bytes),
            (ARTIFACT_PATHS, settings.artifact_max_bytes),
        ],
    )
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(
        HttpMetricsMiddleware, metrics=app.state.http_metrics, routes=app.router.routes
    )
