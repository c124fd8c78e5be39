"""Runtime configuration, read from ``STEWARD_*`` environment variables."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?,/-]+$")
_PACKAGE_POLICIES = Path(__file__).resolve().parents[2] / "policies"


class Settings(BaseSettings):
    """Everything Steward can be configured with; built by the entry points, never at import."""

    model_config = SettingsConfigDict(env_prefix="STEWARD_", extra="ignore")

    home: Path = Field(default=Path("./.steward"))
    database_url: str = ""
    policy_dir: Path = _PACKAGE_POLICIES
    audit_key_path: Path | None = None
    audit_origin: str = "steward.local/audit"
    checkpoint_every: int = Field(default=256, ge=1)
    checkpoint_interval_seconds: float = Field(default=300.0, gt=0)
    # Signed checkpoints are also appended here (default ``<home>/witness``) and POSTed to each
    # URL (through the webhook SSRF guard and allowlist), so the log is anchored outside its DB.
    audit_witness_dir: Path | None = None
    audit_witness_urls: list[str] = Field(default_factory=list)
    # What verify accepts after the last checkpoint: at most this many entries (default:
    # checkpoint_every) and none older than this many minutes.
    audit_max_unsealed_entries: int | None = Field(default=None, ge=1)
    audit_max_unsealed_minutes: float = Field(default=60.0, gt=0)
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    # Bulk inference and label uploads (Arrow/Parquet) may be far larger than other requests.
    max_ingest_body_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    rate_limit_per_minute: int = Field(default=1200, ge=1)
    rate_limit_burst: int = Field(default=200, ge=1)
    policy_reload_seconds: float = Field(default=2.0, ge=0)
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_file: Path | None = None
    oidc_jwks_url: str | None = None
    oidc_algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256", "EdDSA"])
    oidc_subject_claim: str = "sub"
    # OpenLineage job namespace -> Steward project, for emitters whose namespaces are not
    # project names (e.g. STEWARD_LINEAGE_NAMESPACE_MAP='{"airflow-prod": "credit"}').
    lineage_namespace_map: dict[str, str] = Field(default_factory=dict)
    data_dir: Path | None = None
    # Hosts, addresses or CIDRs (optionally ``:port``) webhooks may reach although not public.
    webhook_allowlist: list[str] = Field(default_factory=list)
    artifact_dir: Path | None = None
    # Largest model artifact an upload may carry, and the types (beyond skops' defaults) a
    # scikit-learn artifact may hold, e.g. sklearn.ensemble._hist_gradient_boosting.predictor.
    # TreePredictor; anything else is refused before it is loaded.
    artifact_max_bytes: int = Field(default=2 * 1024**3, ge=1024)
    skops_trusted_types: list[str] = Field(default_factory=list)
    # Caps on one inference or label batch, whatever its format: rows, decoded (uncompressed)
    # bytes, and UTC days spanned (each day is one partition file written per batch).
    ingest_max_rows: int = Field(default=1_000_000, ge=1)
    ingest_max_decoded_bytes: int = Field(default=1024**3, ge=1024)
    ingest_max_days: int = Field(default=31, ge=1)
    # Failed authentications from one client for one reason are audited once per interval with
    # their count (the first at once); 0 writes an entry per failure.
    auth_failure_interval_seconds: float = Field(default=60.0, ge=0)
    # Folders dataset versions may be read from, each holding one sub-folder per project (a JSON
    # list); empty: ``<data_dir>/datasets``. A project's data is read only under its own folder.
    dataset_roots: list[Path] = Field(default_factory=list)
    # The key sealing secrets at rest (webhook signing secrets); by default beside the audit key.
    secrets_key_path: Path | None = None
    # The PostgreSQL role `steward db upgrade` creates and grants the application's rights to
    # (what serve and daemon connect as); empty: roles and grants are managed by hand.
    db_app_role: str = Field(default="steward_app", pattern=r"^([a-z_][a-z0-9_]{0,62})?$")
    # Pipelines: step functions (``module:function``) may only come from modules under these
    # prefixes (empty: no pipeline may run), importable from the interpreter's path plus
    # ``pipeline_path``. A step's process gets at most ``pipeline_memory_bytes`` of address
    # space and ``pipeline_step_timeout_seconds`` unless its spec asks for less.
    pipeline_modules: list[str] = Field(default_factory=list)
    pipeline_path: list[Path] = Field(default_factory=list)
    pipeline_step_timeout_seconds: float = Field(default=3600.0, gt=0)
    pipeline_memory_bytes: int | None = Field(default=None, ge=64 * 1024**2)
    # Steps run on this Dask scheduler (tcp://host:port) instead of local processes when set.
    dask_address: str | None = None
    # Whether this server's worker threads claim queued pipeline runs (the daemon's always do).
    pipeline_worker: bool = True
    # Monitor backfills compute their windows in the pipeline runner (a process per
    # ``backfill_chunk_windows`` windows, with the step limits, on Dask when configured), or
    # "server": in the serving process itself (development, or a runner that cannot start).
    backfill_runner: Literal["pipeline", "server"] = "pipeline"
    backfill_chunk_windows: int = Field(default=24, ge=1, le=2000)
    # A rollout whose candidate fails this share of at least ``rollback_min_requests`` scoring
    # requests is rolled back automatically.
    rollback_error_rate: float = Field(default=0.2, gt=0, le=1)
    rollback_min_requests: int = Field(default=20, ge=1)
    # A credential and the role bindings are trusted this long without a database read, so a
    # token revoked or a role changed by another process (the CLI) takes effect within it; a
    # change made through the same server applies at once. 0 reads the database every request.
    access_cache_seconds: float = Field(default=1.0, ge=0, le=60)
    # Compliance reports are stored content-addressed under ``report_dir`` (default
    # ``<home>/reports``). The daemon stores one per deployed model version at each fire of
    # ``report_schedule`` (five-field crontab in UTC, default Mondays 06:00; "off" disables), in
    # ``report_format``.
    report_dir: Path | None = None
    report_schedule: str = "0 6 * * 1"
    report_format: Literal["html", "md", "json", "pdf"] = "html"
    # -- scale-out (issue 13): helpers add their fields below, each under its own comment --
    # The daemon leader compacts the capture store's small files this often.
    compaction_every_seconds: float = Field(default=600.0, gt=0)
    # Monitor windows of at least this many rows run in profile mode, by row group; None: never.
    monitor_profile_rows: int | None = Field(default=None, ge=0)
    # Rows of the seeded, day-stratified sample a profile-mode run keeps for signals needing rows.
    monitor_sample_rows: int = Field(default=100_000, ge=1000, le=10_000_000)
    # Where captured inferences and labels live (STEWARD_CAPTURE_URI): a local folder or a
    # pyarrow/fsspec URI such as ``s3://bucket/prefix?region=eu-west-1``; default ``data_dir``.
    # Credentials never go here: they come from the environment (AWS_*, AWS_PROFILE, GCP ADC).
    capture_uri: str | None = None
    # Where uploaded dataset versions are written and object-store versions read from
    # (STEWARD_DATASET_URI, ``<uri>/<project>/uploads``); default: the first dataset root.
    dataset_uri: str | None = None
    # Compaction: a day's published files under ``compaction_small_bytes`` are rewritten as one
    # file once there are ``compaction_min_files`` of them (at most ``compaction_max_bytes`` of
    # input per file); replaced files are deleted ``compaction_grace_seconds`` after the swap,
    # so a reader that listed them before can still read them.
    compaction_min_files: int = Field(default=8, ge=2)
    compaction_small_bytes: int = Field(default=32 * 1024**2, ge=1)
    compaction_max_bytes: int = Field(default=512 * 1024**2, ge=1024)
    compaction_grace_seconds: float = Field(default=600.0, ge=0)
    # The daemon leader runs at most this many monitor windows at once: in its own threads, or
    # on the Dask cluster when ``dask_address`` is set (STEWARD_MONITOR_CONCURRENCY).
    monitor_concurrency: int = Field(default=4, ge=1, le=256)
    # -- CLI, SDK, OpenLineage (issue 14): helpers add their fields below --
    # Project that OpenLineage events land in when their namespace is neither mapped nor a project.
    lineage_default_project: str | None = Field(default=None, max_length=64)
    # -- LLM evaluators (issue 16) --
    # Folders searched for WordNet 3.0 dict files (Debian's wordnet-base) that METEOR needs;
    # an NLTK "wordnet" corpus on nltk.data.path also serves. None found: METEOR is refused.
    wordnet_dirs: list[Path] = Field(default_factory=lambda: [Path("/usr/share/wordnet")])

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        """Fill the paths that default to places under the home."""
        if not self.database_url:
            self.database_url = f"sqlite:///{self.home.resolve() / 'steward.db'}"
        if self.audit_key_path is None:
            self.audit_key_path = self.home / "keys" / "audit-ed25519.pem"
        if self.secrets_key_path is None:
            self.secrets_key_path = self.audit_key_path.parent / "secrets.key"
        if self.data_dir is None:
            self.data_dir = self.home / "data"
        if self.audit_witness_dir is None:
            self.audit_witness_dir = self.home / "witness"
        if self.artifact_dir is None:
            self.artifact_dir = self.home / "artifacts"
        bad = {"none", "HS256", "HS384", "HS512"} & set(self.oidc_algorithms)
        if bad:
            raise ValueError(f"oidc_algorithms may not include {sorted(bad)}")
        return self

    @model_validator(mode="after")
    def _check_reports(self) -> Settings:
        """Default the report folder; refuse a schedule that is neither "off" nor a crontab."""
        if self.report_dir is None:
            self.report_dir = self.home / "reports"
        schedule = " ".join(self.report_schedule.split())
        fields = schedule.split(" ")
        if schedule != "off" and (len(fields) != 5 or not all(map(_CRON_FIELD.match, fields))):
            raise ValueError(
                f"report_schedule {self.report_schedule!r} is not 'off' or a five-field crontab "
                "(minute hour day month weekday, e.g. '0 6 * * 1' for Mondays 06:00 UTC)"
            )
        self.report_schedule = schedule
        return self

    @property
    def key_path(self) -> Path:
        """The audit signing key's path (always set after validation)."""
        assert self.audit_key_path is not None
        return self.audit_key_path

    @property
    def secrets_key(self) -> Path:
        """The path of the key sealing secrets at rest (always set after validation)."""
        assert self.secrets_key_path is not None
        return self.secrets_key_path

    @property
    def witness_dir(self) -> Path:
        """The file witness's directory (always set after validation)."""
        assert self.audit_witness_dir is not None
        return self.audit_witness_dir

    @model_validator(mode="after")
    def _derive_dataset_roots(self) -> Settings:
        """Default the dataset roots under the data dir; refuse one holding Steward's own files."""
        assert self.data_dir is not None and self.artifact_dir is not None
        assert self.report_dir is not None
        if not self.dataset_roots:
            self.dataset_roots = [self.data_dir / "datasets"]
        own = (self.home, self.data_dir, self.artifact_dir, self.report_dir, self.key_path.parent,
               self.secrets_key.parent)  # fmt: skip
        for root in self.dataset_roots:
            if any(path.resolve().is_relative_to(root.resolve()) for path in own):
                raise ValueError(f"dataset root {root} holds Steward's own storage")
        return self
