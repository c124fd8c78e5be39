"""What the model catalogue takes in and gives out."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lineage.schemas import CARD_TEXT_MAX, NAME_RE, Incoming, Metric, ModelCard, Owner

TAG_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
Tag = Annotated[str, Field(pattern=TAG_RE.pattern)]
Licence = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=CARD_TEXT_MAX)]
MAX_QUERY = 500
_SECRET_KEY = re.compile(r"key|secret|token|password|credential", re.IGNORECASE)


class Frozen(BaseModel):
    """Base of what leaves the catalogue: immutable."""

    model_config = ConfigDict(frozen=True)


class EntrySource(StrEnum):
    """Where an entry comes from."""

    published = "published"
    external = "external"


class Visibility(StrEnum):
    """Who sees an entry: readers of models in its project, or every member of the
    organisation (a principal with any role in any project)."""

    project = "project"
    organisation = "organisation"


class Evaluation(Frozen):
    """One evaluation result of a catalogue model."""

    metric: Annotated[str, Field(min_length=1, max_length=200)]
    value: Metric
    dataset: Annotated[str, Field(max_length=500)] = ""
    version: Annotated[str, Field(max_length=128)] = ""


class EntryVersion(Frozen):
    """One version a catalogue entry offers (a registered version, or an external model's)."""

    version: str
    model_version_id: UUID | None = None
    sha256: str = ""
    flavor: str = ""
    metrics: dict[str, float] = Field(default_factory=dict)


class HistoryItem(Frozen):
    """One change of an entry: what, by whom, when, which fields."""

    action: str
    by: str
    at: datetime
    fields: list[str] = Field(default_factory=list)


class CatalogEntry(Frozen):
    """A catalogue entry as a caller who may see it sees it."""

    id: UUID
    name: str
    source: EntrySource
    visibility: Visibility
    project: str | None = None
    model: str | None = None
    description: str = ""
    card: ModelCard = Field(default_factory=ModelCard)
    licence: str
    intended_use: str = ""
    limitations: str = ""
    evaluations: list[Evaluation] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    versions: list[EntryVersion] = Field(default_factory=list)
    provider: dict[str, str] = Field(default_factory=dict)
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    history: list[HistoryItem] = Field(default_factory=list)
    withdrawn: bool = False
    withdrawn_by: str | None = None
    withdrawn_at: datetime | None = None
    withdrawn_reason: str = ""


class CatalogHit(Frozen):
    """An entry found by a search, with its rank (higher is better; 0 without a query)."""

    entry: CatalogEntry
    rank: float = 0.0


class CatalogPage(Frozen):
    """One page of search results, best first; ``next`` is the cursor of the following page."""

    items: list[CatalogHit]
    next: str | None = None


class CatalogQuery(Frozen):
    """A search: free text (web-search syntax) and filters."""

    text: str = Field(default="", max_length=MAX_QUERY)
    tag: str | None = None
    licence: str | None = None
    source: EntrySource | None = None


def _distinct(value: list[str]) -> list[str]:
    if len(set(value)) != len(value):
        raise ValueError("items must be distinct")
    return value


class PublishRequest(Incoming):
    """Publish a registered model (some or all of its versions) to the catalogue."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(pattern=NAME_RE.pattern, max_length=200)
    versions: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(
        default_factory=list, max_length=100
    )
    name: str | None = Field(default=None, pattern=NAME_RE.pattern, max_length=200)
    visibility: Visibility = Visibility.project
    description: Text = ""
    licence: Licence
    intended_use: Text | None = None
    limitations: Text | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50)

    _tags = field_validator("tags")(_distinct)
    _versions = field_validator("versions")(_distinct)


class CardIn(Incoming):
    """The model card of an external model, as its provider documents it."""

    model_config = ConfigDict(extra="forbid")

    owners: list[Owner] = Field(default_factory=list, max_length=50)
    intended_use: Text = ""
    limitations: Text = ""
    out_of_scope_uses: Text = ""


class ExternalVersion(Incoming):
    """A version of an external model, e.g. a dated snapshot of a hosted model."""

    model_config = ConfigDict(extra="forbid")

    version: Annotated[str, Field(min_length=1, max_length=128)]


class ExternalCreate(Incoming):
    """Allow an external model (hosted, or open weights) in the organisation."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_RE.pattern, max_length=200)
    description: Text = ""
    card: CardIn = Field(default_factory=CardIn)
    licence: Licence
    intended_use: Text = ""
    limitations: Text = ""
    evaluations: list[Evaluation] = Field(default_factory=list, max_length=200)
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    versions: list[ExternalVersion] = Field(default_factory=list, max_length=100)
    provider: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=500)]] = (
        Field(default_factory=dict, max_length=20)
    )

    _tags = field_validator("tags")(_distinct)

    @field_validator("provider")
    @classmethod
    def _no_secrets(cls, value: dict[str, str]) -> dict[str, str]:
        # Every member reads an entry: credentials for a provider belong in the deployment.
        secret = sorted(k for k in value if _SECRET_KEY.search(k))
        if secret:
            raise ValueError(f"provider must not carry credentials: {secret}")
        return value


class ExternalUpdate(Incoming):
    """Change some fields of an external entry; fields left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    description: Text | None = None
    licence: Licence | None = None
    intended_use: Text | None = None
    limitations: Text | None = None
    evaluations: list[Evaluation] | None = Field(default=None, max_length=200)
    tags: list[Tag] | None = Field(default=None, max_length=50)
    versions: list[ExternalVersion] | None = Field(default=None, max_length=100)


class WithdrawRequest(Incoming):
    """Withdraw an entry: it leaves search; links made earlier stay valid."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(max_length=2000)] = ""


class UseRequest(Incoming):
    """Use a catalogue entry in a project: register it there as a model."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, pattern=NAME_RE.pattern, max_length=200)
    version: str | None = Field(default=None, min_length=1, max_length=128)


class CatalogLink(Frozen):
    """A catalogue entry used in a project, and the model version registered for it."""

    id: UUID
    entry_id: UUID
    project: str
    model: str
    version: int
    model_version_id: UUID
    entry_version: str
    created_by: str
    created_at: datetime


class LicenceRule(Incoming):
    """Which licences a project accepts from the catalogue (SPDX ids or categories such as
    ``non-commercial``, compared without case); an empty ``allowed`` accepts any not refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed: list[Licence] = Field(default_factory=list, max_length=200)
    refused: list[Licence] = Field(default_factory=list, max_length=200)
