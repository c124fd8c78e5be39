"""Read and write models of captured inferences and labels, and the expected row schema."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

# Column names of the stored tables that no feature may take.
CORRELATION_ID = "correlation_id"
TIMESTAMP = "timestamp"
PREDICTION = "prediction"
PROBABILITIES = "probabilities"
LABEL = "label"
RECEIVED_AT = "received_at"
RESERVED = frozenset({CORRELATION_ID, TIMESTAMP, PREDICTION, PROBABILITIES, LABEL, RECEIVED_AT})


class ColumnType(StrEnum):
    """Logical type of a captured column."""

    float = "float"
    integer = "integer"
    string = "string"
    boolean = "boolean"
    datetime = "datetime"

    @property
    def arrow(self) -> pa.DataType:
        """The Arrow type the column is stored as."""
        return _ARROW[self]


_ARROW = {
    ColumnType.float: pa.float64(),
    ColumnType.integer: pa.int64(),
    ColumnType.string: pa.string(),
    ColumnType.boolean: pa.bool_(),
    ColumnType.datetime: pa.timestamp("us", tz="UTC"),
}


class CaptureKind(StrEnum):
    """What a stored batch holds."""

    inference = "inference"
    label = "label"


@dataclass(frozen=True, kw_only=True, slots=True)
class ExpectedSchema:
    """The rows an endpoint accepts: its model signature's inputs and outputs."""

    features: tuple[tuple[str, ColumnType], ...]
    prediction: ColumnType
    probabilities: bool = False
    classes: tuple[str, ...] = ()
    allow_extra: bool = False

    @property
    def feature_names(self) -> list[str]:
        """Feature names in signature order."""
        return [name for name, _ in self.features]

    def request_arrow(self) -> pa.Schema:
        """Arrow schema of a scoring request: correlation ids and the features."""
        fields = [pa.field(name, kind.arrow) for name, kind in self.features]
        return pa.schema([pa.field(CORRELATION_ID, pa.string(), nullable=False), *fields])

    def inference_arrow(self) -> pa.Schema:
        """Arrow schema of a stored inference file."""
        fields = [
            pa.field(CORRELATION_ID, pa.string(), nullable=False),
            pa.field(TIMESTAMP, pa.timestamp("us", tz="UTC"), nullable=False),
            *(pa.field(name, kind.arrow) for name, kind in self.features),
            pa.field(PREDICTION, self.prediction.arrow),
        ]
        if self.probabilities:
            fields.append(pa.field(PROBABILITIES, pa.list_(pa.float64())))
        return pa.schema(fields)

    def label_arrow(self) -> pa.Schema:
        """Arrow schema of a stored label file."""
        return pa.schema(
            [
                pa.field(CORRELATION_ID, pa.string(), nullable=False),
                pa.field(LABEL, self.prediction.arrow),
                pa.field(RECEIVED_AT, pa.timestamp("us", tz="UTC"), nullable=False),
            ]
        )


# The JSON bodies' shape, for the API documentation; bodies are parsed column by column in
# ``monitors.capture.validate`` (several times faster than building one model per record).
class InferenceRecord(BaseModel):
    """One scored request as an application reports it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    correlation_id: str = Field(min_length=1, max_length=200)
    timestamp: datetime | None = None
    # Values are checked column by column against the endpoint's signature (faster, and every
    # problem is reported with its feature name), so they are not typed here.
    features: dict[str, Any]
    prediction: Any = None
    probabilities: list[float] | dict[str, float] | None = None


class InferenceBatch(BaseModel):
    """A JSON batch of inference records."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    records: list[InferenceRecord] = Field(min_length=1)


class LabelRecord(BaseModel):
    """The ground truth of one earlier inference, matched by correlation id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    correlation_id: str = Field(min_length=1, max_length=200)
    label: Any


class LabelBatch(BaseModel):
    """A JSON batch of labels."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    labels: list[LabelRecord] = Field(min_length=1)


class IngestResult(BaseModel):
    """What happened to one posted batch."""

    model_config = ConfigDict(frozen=True)

    batch_id: UUID
    kind: CaptureKind
    rows: int
    duplicate: bool
    days: list[str]
    # Time values whose sub-microsecond digits were dropped (times are stored to the microsecond).
    truncated_timestamps: int = 0
    warnings: list[str] = Field(default_factory=list)


class IngestCount(BaseModel):
    """Running totals of ingested batches for one endpoint (for ``/metrics``)."""

    model_config = ConfigDict(frozen=True)

    project: str
    endpoint: str
    kind: CaptureKind
    batches: int
    rows: int
    refused: int
    duplicates: int


class RetentionResult(BaseModel):
    """Partitions removed by one retention pass."""

    model_config = ConfigDict(frozen=True)

    deleted: dict[str, list[str]] = Field(default_factory=dict)

    @property
    def partitions(self) -> int:
        """How many day partitions went."""
        return sum(len(days) for days in self.deleted.values())


def error(loc: list[Any], msg: str) -> dict[str, Any]:
    """One reason a batch was refused, in the API's error-list shape."""
    return {"loc": [str(part) for part in loc], "msg": msg}


class StoredBatch(BaseModel):
    """A batch the database has recorded as stored."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    project: str
    endpoint: str
    kind: CaptureKind
    content_hash: str
    idempotency_key: str | None
    rows: int
    actor: str
    days: list[str]
    created_at: datetime
