"""Find the example blocks of a Markdown page, with the markers that say how they run."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SHELL = frozenset({"bash", "sh", "shell", "console"})
PYTHON = frozenset({"python", "py"})
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<lang>[\w+-]*)[^\n]*$")
MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<body>.*?)\s*-->\s*$")
# What a block that is meant to run starts with: a prompt, a command, an import.
RUNNABLE = re.compile(
    r"^\s*(\$ |curl\b|steward\b|\.venv/bin/|python3?\b|pip\b|export\b|psql\b|"
    r"import \w|from [\w.]+ import\b)"
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Block:
    """One fenced or indented code block of a page."""

    page: str
    line: int  # 1-based line of the opening fence
    lang: str  # "" for an untagged or indented block
    code: str
    marker: str | None  # the body of a ``<!-- docs-test: ... -->`` right before it

    @property
    def kind(self) -> str | None:
        """The kind of code: shell, python, or None for a block that is not code to run."""
        if self.lang in SHELL:
            return "shell"
        if self.lang in PYTHON:
            return "python"
        return None

    @property
    def source(self) -> str:
        """The code to run: a console block's commands without their prompts and output."""
        if self.lang != "console":
            return self.code
        lines = [ln[2:] for ln in self.code.splitlines() if ln.startswith("$ ")]
        return "\n".join(lines) + "\n"

    @property
    def where(self) -> str:
        """``page:line``, for messages."""
        return f"{self.page}:{self.line}"

    def looks_runnable(self) -> bool:
        """Whether a block not tagged as code starts like a command or an import."""
        first = next((ln for ln in self.code.splitlines() if ln.strip()), "")
        return self.kind is None and bool(RUNNABLE.match(first))


PAGE_LEVEL = ("fresh", "server-env ")  # markers about the page's server, not the next block


def _marker_before(lines: list[str], index: int) -> str | None:
    """The block marker on the nearest non-blank line above ``index``, if any."""
    for prev in reversed(lines[:index]):
        if prev.strip():
            found = MARKER.match(prev)
            if found is None or found.group("body").startswith(PAGE_LEVEL):
                return None
            return found.group("body")
    return None


def _indented(lines: list[str], start: int, page: str) -> tuple[Block, int]:
    """An indented (four-space) code block starting at ``start``, and the line after it."""
    end = start
    while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
        end += 1
    code = "\n".join(ln[4:] for ln in lines[start:end]).rstrip() + "\n"
    marker = _marker_before(lines, start)
    return Block(page=page, line=start + 1, lang="", code=code, marker=marker), end


def blocks(path: Path, root: Path) -> list[Block]:
    """Every code block of the page at ``path``, in order."""
    page = str(path.relative_to(root))
    lines = path.read_text().splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening:
            fence, indent = opening.group("fence"), len(opening.group("indent"))
            end = i + 1
            while end < len(lines) and not lines[end].strip().startswith(fence):
                end += 1
            code = "\n".join(ln[indent:] for ln in lines[i + 1 : end]) + "\n"
            lang = opening.group("lang").lower()
            marker = _marker_before(lines, i)
            found.append(Block(page=page, line=i + 1, lang=lang, code=code, marker=marker))
            i = end + 1
        elif lines[i].startswith("    ") and i > 0 and not lines[i - 1].strip():
            if not _in_list(lines, i):
                block, i = _indented(lines, i, page)
                found.append(block)
                continue
            i += 1
        else:
            i += 1
    return found


def _in_list(lines: list[str], index: int) -> bool:
    """Whether an indented line continues a list item (Markdown, not a code block)."""
    for prev in reversed(lines[:index]):
        if not prev.strip():
            continue
        if prev.startswith("    "):
            continue
        return bool(re.match(r"^\s*([-*+]|\d+\.)\s", prev))
    return False


def pages(root: Path) -> list[Path]:
    """README.md and every page under docs/."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]
