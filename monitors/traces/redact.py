"""PII redaction of prompt, completion and context text before a trace record is stored.

Built-in rules find e-mail addresses, phone numbers, payment card numbers (Luhn-checked), IPv4
addresses and US social security numbers; a project may add its own regular expressions. Every
match becomes ``[REDACTED:<rule>]``.

Python's ``re`` has no timeout, so a custom pattern that can backtrack catastrophically (``(a+)+``
on a long run of ``a``) would stall a worker. Patterns are therefore refused before they are
stored when they are long, use backreferences, or repeat a group that itself repeats without
bound or holds alternatives (the shapes that backtrack exponentially); the built-in patterns use
bounded repeats only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from governance.core.errors import InvalidInput

MAX_PATTERN = 200
MAX_RULES = 20
_BOUND = 100  # a repeat inside a repeat may go this high
RULE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_CODE: Final = "invalid_redaction_rule"

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
# Order matters: card numbers before phone numbers, which would take a part of them.
BUILTIN_PATTERNS: Final[dict[str, str]] = {
    "email": r"(?<![\w.%+-])[\w.%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}"
    r"\.[A-Za-z]{2,24}(?![\w-])",
    "credit_card": r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])",
    "us_ssn": r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])",
    "ipv4": rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\.?\d)",
    "phone": r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{3}\)|\d{3})[ .-]?\d{3}[ .-]?\d{4}(?!\w)",
}
BUILTINS: Final = tuple(BUILTIN_PATTERNS)


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn checksum of payment card numbers."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char) * (2 if i % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def check_pattern(name: str, pattern: str) -> re.Pattern[str]:
    """Compile a custom rule, refusing names and patterns that are unsafe to run."""
    if not RULE_NAME.match(name) or name in BUILTIN_PATTERNS:
        raise InvalidInput(f"rule name {name!r} is not a new lower-case identifier", code=_CODE)
    if not pattern or len(pattern) > MAX_PATTERN:
        raise InvalidInput(f"pattern of rule {name!r} must be 1-{MAX_PATTERN} chars", code=_CODE)
    try:
        compiled = re.compile(pattern)
        parsed = _parse(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise InvalidInput(
            f"pattern of rule {name!r} is not a regular expression", code=_CODE
        ) from exc
    if _risky(parsed, inside_repeat=False):
        raise InvalidInput(
            f"pattern of rule {name!r} may backtrack catastrophically (a repeated group that "
            "repeats or alternates inside, or a backreference); rewrite it with bounded repeats",
            code=_CODE,
        )
    if compiled.match(""):
        raise InvalidInput(f"pattern of rule {name!r} matches the empty string", code=_CODE)
    return compiled


def _parse(pattern: str) -> Any:
    from re import _parser  # type: ignore[attr-defined]

    return _parser.parse(pattern)


def _risky(items: Iterable[Any], *, inside_repeat: bool) -> bool:
    """Whether a parsed pattern nests unbounded repeats, alternates in a repeat or refers back."""
    return any(_risky_item(op, arg, inside_repeat) for op, arg in items)


def _risky_item(op: Any, arg: Any, inside: bool) -> bool:
    from re import _constants as c  # type: ignore[attr-defined]

    if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
        _low, high, body = arg
        if inside and (high == c.MAXREPEAT or high > _BOUND):
            return True
        return _risky(body, inside_repeat=inside or high > 1)
    if op in (c.GROUPREF, c.GROUPREF_EXISTS):
        return True
    if op == c.BRANCH:
        return inside or any(_risky(b, inside_repeat=False) for b in arg[1])
    if op == c.SUBPATTERN:
        return _risky(arg[-1], inside_repeat=inside)
    if op in (c.ASSERT, c.ASSERT_NOT):
        return _risky(arg[1], inside_repeat=inside)
    return False


@dataclass(frozen=True, kw_only=True, slots=True)
class Redactor:
    """The rules of one project, compiled; ``redact`` returns the text and the matches replaced."""

    rules: tuple[tuple[str, re.Pattern[str]], ...]

    @classmethod
    def build(cls, builtins: Iterable[str], custom: Iterable[tuple[str, str]]) -> Redactor:
        """Compile the enabled built-in rules (in their fixed order) and the custom ones."""
        enabled = set(builtins)
        rules = [(n, re.compile(p)) for n, p in BUILTIN_PATTERNS.items() if n in enabled]
        rules += [(name, check_pattern(name, pattern)) for name, pattern in custom]
        return cls(rules=tuple(rules))

    def redact(self, text: str | None) -> tuple[str | None, int]:
        """``text`` with every match replaced by ``[REDACTED:<rule>]``, and how many there were."""
        if not text:
            return text, 0
        total = 0
        for name, pattern in self.rules:
            marker = f"[REDACTED:{name}]"
            before = text.count(marker)
            # Counted by markers, not matches: a card-like number failing Luhn is left as it was.
            text = pattern.sub(_replacement(name, marker), text)
            total += text.count(marker) - before
        return text, total


def _replacement(name: str, marker: str) -> Callable[[re.Match[str]], str]:
    if name != "credit_card":
        return lambda _match: marker

    def card(match: re.Match[str]) -> str:
        # Only numbers with a valid check digit are card numbers; order ids and the like stay.
        digits = re.sub(r"\D", "", match.group())
        return marker if luhn_valid(digits) else match.group()

    return card
