"""Read and write models of prompt assets: chat templates and flow definitions."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lineage.schemas import ALIAS_RE, Incoming

PROMPT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_TEMPLATE_CHARS = 64 * 1024
"""Sum of the characters of a version's message templates (or its flow document)."""
MAX_MESSAGES = 100
MAX_PARAMETERS = 32


class Frozen(BaseModel):
    """Base of values that leave the domain."""

    model_config = ConfigDict(frozen=True)


class PromptKind(StrEnum):
    """What a prompt asset holds: a chat template or a flow definition."""

    prompt = "prompt"
    flow = "flow"


class Role(StrEnum):
    """Roles of chat messages."""

    system = "system"
    user = "user"
    assistant = "assistant"


class PromptMessage(Frozen):
    """One chat message; ``content`` is a Jinja2 template in a stored version."""

    role: Role
    content: str = Field(max_length=MAX_TEMPLATE_CHARS)


ModelParameter = str | int | float | bool | None


class PromptCreate(Incoming):
    """The content of a new version of a prompt asset (the asset is created with its first)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=PROMPT_NAME_RE.pattern, max_length=128)
    kind: PromptKind = PromptKind.prompt
    description: str = Field(default="", max_length=4000)
    messages: list[PromptMessage] = Field(default_factory=list, max_length=MAX_MESSAGES)
    flow: dict[str, Any] | None = None
    model: str = Field(default="", max_length=200)
    model_parameters: dict[str, ModelParameter] = Field(default_factory=dict)
    model_version_id: UUID | None = None

    @model_validator(mode="after")
    def _content_matches_kind(self) -> PromptCreate:
        if self.kind == PromptKind.prompt and (self.flow is not None or not self.messages):
            raise ValueError("a prompt holds messages and no flow")
        if self.kind == PromptKind.flow and (self.flow is None or self.messages):
            raise ValueError("a flow holds a flow document and no messages")
        if len(self.model_parameters) > MAX_PARAMETERS:
            raise ValueError(f"at most {MAX_PARAMETERS} model parameters")
        return self


class PromptVersion(Frozen):
    """An immutable, content-addressed version of a prompt asset."""

    id: UUID
    project: str
    name: str
    version: int
    kind: PromptKind
    description: str = ""
    messages: list[PromptMessage] = Field(default_factory=list)
    flow: dict[str, Any] | None = None
    variables: list[str] = Field(default_factory=list)
    model: str = ""
    model_parameters: dict[str, ModelParameter] = Field(default_factory=dict)
    model_version_id: UUID | None = None
    content_hash: str
    created_by: str
    created_at: datetime
    aliases: list[str] = Field(default_factory=list)

    @property
    def ref(self) -> str:
        """``name@version``, as audit targets and the CLI name it."""
        return f"{self.name}@{self.version}"


class Prompt(Frozen):
    """A prompt asset: its kind, its latest version and aliases."""

    id: UUID
    project: str
    name: str
    kind: PromptKind
    description: str
    created_at: datetime
    versions: int
    aliases: dict[str, int] = Field(default_factory=dict)


class PromptAliasSet(Incoming):
    """Point an alias at a version."""

    version: int = Field(ge=1, le=2**31 - 1)


class PromptAlias(Frozen):
    """An alias after a move: where it points now and where it pointed before."""

    name: str
    alias: str
    version: int
    previous: int | None
    updated_at: datetime


class PromptDeploy(Incoming):
    """Serve a prompt version (or whatever an alias names) at an endpoint from now on."""

    endpoint: str = Field(max_length=200)
    note: str = Field(default="", max_length=1000)


class PromptDeployment(Frozen):
    """A period during which a prompt version served an endpoint."""

    endpoint: str
    name: str
    version: int
    prompt_version_id: UUID
    started_at: datetime
    ended_at: datetime | None
    actor: str
    note: str = ""


class PromptServed(Frozen):
    """Which prompt version served an endpoint at a time (None: none did)."""

    endpoint: str
    at: datetime
    deployment: PromptDeployment | None


class RenderRequest(Incoming):
    """Variables to render a prompt version with."""

    model_config = ConfigDict(extra="forbid")

    ref: str = Field(default="", max_length=200)
    variables: dict[str, Any] = Field(default_factory=dict)


class Rendered(Frozen):
    """A rendered chat: the version it came from and its messages."""

    name: str
    version: int
    content_hash: str
    model: str
    model_parameters: dict[str, ModelParameter]
    messages: list[PromptMessage]


def is_alias(text: str) -> bool:
    """Whether ``text`` may name an alias."""
    return ALIAS_RE.fullmatch(text) is not None
