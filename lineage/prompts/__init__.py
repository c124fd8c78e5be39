"""Prompt templates and flow definitions as versioned assets of the lineage graph.

A prompt asset (kind ``prompt``: chat messages whose contents are Jinja2 templates; kind
``flow``: a small DAG document) has immutable, content-addressed versions numbered from 1,
movable aliases, an optional ``calls`` edge to the model version it uses and timed
``prompt_deployed`` edges to the endpoints it served. Other packages call these functions.
"""

from __future__ import annotations

from lineage.prompts.schemas import PromptMessage, PromptVersion
from lineage.prompts.service import (
    create_prompt_version,
    delete_prompt_alias,
    deploy_prompt,
    find_prompt_served,
    get_prompt_version,
    list_prompt_deployments,
    list_prompt_versions,
    list_prompts,
    parse_ref,
    render_prompt,
    set_prompt_alias,
)

__all__ = [
    "PromptMessage",
    "PromptVersion",
    "create_prompt_version",
    "delete_prompt_alias",
    "deploy_prompt",
    "find_prompt_served",
    "get_prompt_version",
    "list_prompt_deployments",
    "list_prompt_versions",
    "list_prompts",
    "parse_ref",
    "render_prompt",
    "set_prompt_alias",
]
