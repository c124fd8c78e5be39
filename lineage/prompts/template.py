"""Chat templates: declared variables, and rendering in Jinja2's sandbox with strict checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from governance.core.errors import InvalidInput, TooLarge
from lineage.prompts.schemas import MAX_TEMPLATE_CHARS, PromptMessage

if TYPE_CHECKING:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_RENDERED_CHARS = 256 * 1024
"""Sum of the characters of a rendered chat: a loop in a template cannot blow up memory."""
MAX_VARIABLES_CHARS = 128 * 1024


@lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    # Immutable: a template may not even call list.append on the caller's variables.
    return ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def declared_variables(messages: Iterable[PromptMessage]) -> list[str]:
    """The variables the templates use without defining them, sorted; refuses a bad template."""
    from jinja2 import TemplateSyntaxError, meta

    env = _environment()
    found: set[str] = set()
    total = 0
    for index, message in enumerate(messages):
        total += len(message.content)
        try:
            found |= meta.find_undeclared_variables(env.parse(message.content))
        except TemplateSyntaxError as exc:
            raise InvalidInput(
                f"message {index}: template syntax error on line {exc.lineno}: {exc.message}",
                code="prompt_template_invalid",
                field="messages",
            ) from None
    if total > MAX_TEMPLATE_CHARS:
        raise TooLarge(f"templates exceed {MAX_TEMPLATE_CHARS} characters")
    return sorted(found)


def check_variables(declared: Iterable[str], given: Mapping[str, Any]) -> None:
    """Refuse variables that are missing or that no template declares."""
    wanted = set(declared)
    missing = sorted(wanted - set(given))
    if missing:
        raise InvalidInput(
            f"missing variables: {', '.join(missing)}",
            code="prompt_variable_missing",
            missing=missing,
        )
    extra = sorted(set(given) - wanted)
    if extra:
        raise InvalidInput(
            f"unknown variables: {', '.join(extra)}", code="prompt_variable_unknown", extra=extra
        )


def render_messages(
    messages: Iterable[PromptMessage], variables: Mapping[str, Any]
) -> list[PromptMessage]:
    """Render each template with ``variables`` in the sandbox; refuses unsafe or huge output."""
    env = _environment()
    out: list[PromptMessage] = []
    budget = MAX_RENDERED_CHARS
    for index, message in enumerate(messages):
        text = _render_one(env, index, message.content, dict(variables), budget)
        budget -= len(text)
        out.append(PromptMessage(role=message.role, content=text))
    return out


# What evaluating a caller's template may raise besides TemplateError: its own mistakes
# (1/0, a huge range, a macro calling itself), never a fault of Steward.
_TEMPLATE_FAULTS = (ArithmeticError, RecursionError, TypeError, ValueError, LookupError)


def _render_one(
    env: ImmutableSandboxedEnvironment, index: int, source: str, values: dict[str, Any], budget: int
) -> str:
    from jinja2 import TemplateError, UndefinedError
    from jinja2.exceptions import SecurityError

    parts: list[str] = []
    try:
        # Streamed, so that output past the budget stops the render instead of filling memory.
        for chunk in env.from_string(source).generate(values):
            budget -= len(chunk)
            if budget < 0:
                raise TooLarge(f"the rendered chat exceeds {MAX_RENDERED_CHARS} characters")
            parts.append(chunk)
    except SecurityError:
        raise InvalidInput(
            f"message {index}: the template tried an unsafe operation",
            code="prompt_template_unsafe",
        ) from None
    except UndefinedError as exc:
        raise InvalidInput(
            f"message {index}: {exc.message}", code="prompt_variable_missing"
        ) from None
    except (TemplateError, *_TEMPLATE_FAULTS) as exc:
        raise InvalidInput(
            f"message {index}: rendering failed ({type(exc).__name__})",
            code="prompt_render_failed",
        ) from None
    return "".join(parts)
