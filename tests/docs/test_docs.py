"""Every shell and Python example of README.md and docs/*.md runs, in order, against a server.

Each page gets a fresh ``STEWARD_HOME`` (``steward init``; its owner token in
``STEWARD_TOKEN``), a real ``steward serve`` on a free port (``STEWARD_URL``), one shell
session (``set -euo pipefail``) and one Python namespace, so later blocks build on earlier
ones. Markers in the Markdown, invisible when rendered:

- ``<!-- docs-test: skip — REASON -->`` before a block: not run (the reason is required);
- ``<!-- docs-test: postgres -->`` before a block: run only on a PostgreSQL test database, with
  ``PGHOST``/``PGUSER``/... of its superuser and ``OWNER``, ``APP`` and ``DB``: unique names of
  a role and database the block may create (dropped afterwards);
- ``<!-- docs-test: fresh -->`` on a page: no home and no server (its blocks make them; the
  shell has ``PORT``, a free port);
- ``<!-- docs-test: server-env NAME=VALUE -->`` on a page: the server runs with that setting
  (``{work}`` in VALUE is the page's working folder, where its blocks run).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.docs.extract import Block, blocks, pages
from tests.docs.session import (
    BIN,
    IS_PG,
    ROOT,
    PageRun,
    Template,
    base_env,
    database,
    free_port,
    server,
    superuser_names,
)
from tests.docs.session import template as session_template

PAGES = pages(ROOT)
SKIP = re.compile(r"^skip\s*(—|-|:)\s*(?P<reason>\S.*)$")
SERVER_ENV = re.compile(r"<!--\s*docs-test:\s*server-env\s+(?P<name>\w+)=(?P<value>.*?)\s*-->")


def _ids(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _runs(block: Block) -> bool:
    """Whether this block runs in this pass (skips never; postgres ones on PostgreSQL only)."""
    if block.kind is None or (block.marker or "").startswith("skip"):
        return False
    return block.marker != "postgres" or IS_PG


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    """One ``steward init`` per session (per worker); each page starts from a copy."""
    with session_template(tmp_path_factory.mktemp("docs-template")) as made:
        yield made


def _environment(page: Path, tmp: Path, stack: ExitStack, tpl: Template) -> dict[str, str]:
    """The blocks' environment, with the page's home and server ready unless it is fresh."""
    text = page.read_text()
    fresh = "<!-- docs-test: fresh -->" in text
    env = base_env(tmp, stack.enter_context(database(None if fresh else tpl.database)))
    if IS_PG and any(b.marker == "postgres" for b in blocks(page, ROOT)):
        env.update(stack.enter_context(superuser_names()))
    work = tmp / "work"
    work.mkdir()
    (work / ".venv").symlink_to(BIN.parent)
    if fresh:
        return {**env, "PORT": str(free_port())}
    shutil.copytree(tpl.home, work / ".steward")
    extra = {m["name"]: m["value"].replace("{work}", str(work)) for m in SERVER_ENV.finditer(text)}
    url = stack.enter_context(server({**env, "STEWARD_TOKEN": tpl.token}, work, extra))
    return {**env, "STEWARD_URL": url, "STEWARD_TOKEN": tpl.token}


def _run_page(page: Path, tmp: Path, tpl: Template) -> Iterator[tuple[Block, bool, str]]:
    runnable = [b for b in blocks(page, ROOT) if _runs(b)]
    if not runnable:
        return
    with ExitStack() as stack:
        env = _environment(page, tmp, stack, tpl)
        run = PageRun(cwd=tmp / "work", env=env)
        stack.callback(run.close)
        for block in runnable:
            runner = run.run_shell if block.kind == "shell" else run.run_python
            ok, out = runner(block.source, block.where)
            yield block, ok, out
            if not ok:
                return


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("page", PAGES, ids=_ids)
def test_examples_run(page: Path, tmp_path: Path, template: Template) -> None:
    """The page's blocks run green, in order, against a fresh server."""
    for block, ok, out in _run_page(page, tmp_path, template):
        assert ok, f"{block.where} failed:\n--- block ---\n{block.source}--- output ---\n{out}"


def test_every_skip_says_why() -> None:
    """A skipped block names its reason; every marker is one of the known ones."""
    for page in PAGES:
        for block in blocks(page, ROOT):
            if block.marker is not None:
                assert block.marker == "postgres" or SKIP.match(block.marker), block.where
        for body in re.findall(r"<!--\s*docs-test:\s*(.*?)\s*-->", page.read_text()):
            known = (
                body in ("fresh", "postgres")
                or SKIP.match(body)
                or SERVER_ENV.match(f"<!-- docs-test: {body} -->")
            )
            assert known, f"{page.name}: unknown marker {body!r}"


def test_no_example_escapes_the_extractor() -> None:
    """A block that starts like a command or an import is tagged bash, console or python."""
    escaped = [b.where for page in PAGES for b in blocks(page, ROOT) if b.looks_runnable()]
    assert not escaped, f"untagged runnable blocks (tag them bash/console/python): {escaped}"


def test_the_extractor_reads_markers_and_prompts(tmp_path: Path) -> None:
    """Markers attach to the next block; console prompts are stripped, output dropped."""
    page = tmp_path / "p.md"
    page.write_text(
        "<!-- docs-test: skip — needs a GPU -->\n\n```bash\nnvidia-smi\n```\n\n"
        "```console\n$ steward --version\nsteward 0.1\n```\n\n"
        "text\n\n    curl -s localhost\n\n```\n$ echo hi\n```\n"
    )
    found = blocks(page, tmp_path)
    assert [b.marker for b in found] == ["skip — needs a GPU", None, None, None]
    assert found[1].kind == "shell" and found[1].source == "steward --version\n"
    assert [b.looks_runnable() for b in found] == [False, False, True, True]


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces to -."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_links_between_pages_resolve() -> None:
    """Every relative link names a file that exists, and a heading of it when it has an anchor."""
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"^[a-z]+:", target):
                continue  # http(s), mailto: not checked here
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists() or (anchor and anchor not in _anchors(linked)):
                broken.append(f"{page.name}: {target}")
    assert not broken, broken
