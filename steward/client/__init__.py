"""The Steward Python SDK: needs only httpx and pydantic (frames: pandas, pyarrow or polars).

    from steward.client import Steward

    with Steward("https://steward.example", token, project="credit") as steward:
        train = steward.datasets.upload("train", "data/train.parquet")
        with steward.run("train-churn", inputs=[train], parameters={"C": 1.0}) as run:
            model = fit(...)
            steward.models.register("churn", signature=sig, artifact="model.skops", run=run)
        steward.endpoints.deploy("churn-api", "churn")
        steward.log_inferences("churn-api", frame)          # batched, each batch stored once
        steward.monitors.apply(Path("monitors.yaml"))
        steward.monitors.results_frame("drift")              # a pandas DataFrame

Errors are ``steward.client.errors`` classes (``NotFound``, ``Forbidden``, ``Invalid`` with
``field_errors``, ``ServerUnavailable`` ...), never raw httpx exceptions. Importing this package
imports none of the server's packages.
"""

from steward.client.client import Steward
from steward.client.errors import (
    APIError,
    Conflict,
    FieldError,
    Forbidden,
    InsufficientStorage,
    Invalid,
    InvalidState,
    NotFound,
    ServerError,
    ServerUnavailable,
    StewardClientError,
    Throttled,
    TooLarge,
    Unauthenticated,
    VerificationUnavailable,
)
from steward.client.http import RetryPolicy
from steward.client.pipelines import RunHandle
from steward.client.reports import ReportFile, verify

__all__ = [
    "APIError",
    "Conflict",
    "FieldError",
    "Forbidden",
    "InsufficientStorage",
    "Invalid",
    "InvalidState",
    "NotFound",
    "ReportFile",
    "RetryPolicy",
    "RunHandle",
    "ServerError",
    "ServerUnavailable",
    "Steward",
    "StewardClientError",
    "Throttled",
    "TooLarge",
    "Unauthenticated",
    "VerificationUnavailable",
    "verify",
]
