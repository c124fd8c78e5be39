"""Full-text search of the catalogue: card text, web-search syntax, ranking, filters, pages."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from lineage.catalog.search import HAS_FTS5, fts5_query, rank_documents
from tests.builders import World
from tests.catalog.conftest import CATALOG, Org, ok, publish, register


def _found(client: TestClient, org: Org, who: str = "admin", **params: str | int) -> list[str]:
    labels = {v: k for k, v in org.entries.items()}
    page = ok(client.get(CATALOG, params=params, headers=org.headers[who]))
    return [labels.get(h["entry"]["id"], h["entry"]["name"]) for h in page["items"]]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("European retail", ["alpha"]),  # the card's limitations, copied at publish time
        ("campaign", ["alpha"]),  # stemmed: the card says "campaigns"
        ('"support tickets"', ["external"]),  # a phrase of the intended use
        ("fraud or tickets", ["beta-org", "external"]),
        ("tabular -churn", ["beta-org"]),  # tags are searched; minus excludes
        ("llm", ["external"]),
        ("nothing-like-this", []),
    ],
)
def test_search_finds_by_card_text_and_syntax(
    org: Org, client: TestClient, q: str, expected: list[str]
) -> None:
    assert sorted(_found(client, org, q=q)) == expected


def test_search_ranks_the_better_match_first(org: Org, client: TestClient, world: World) -> None:
    owner = world.headers("owner")
    register(client, owner, "alpha", "survival", 9)
    publish(
        client,
        owner,
        "alpha",
        model="survival",
        licence="MIT",
        visibility="organisation",
        description="Time to churn; a survival model of customer churn and churn risk",
    )
    # both mention churn; only alpha/churn's card also speaks of retention campaigns in Europe
    q = "churn or retention or campaigns or european"
    ranked = ok(client.get(CATALOG, params={"q": q}, headers=org.headers["viewer"]))
    names = [h["entry"]["name"] for h in ranked["items"]]
    assert names == ["alpha/churn", "alpha/survival"]
    ranks = [h["rank"] for h in ranked["items"]]
    assert ranks[0] > ranks[1] > 0


def test_filters_by_tag_licence_and_source(org: Org, client: TestClient) -> None:
    assert sorted(_found(client, org, tag="tabular")) == ["alpha", "beta-org"]
    assert _found(client, org, licence="mit") == ["beta-org"]  # licences compare without case
    assert _found(client, org, source="external") == ["external"]
    assert _found(client, org, source="published", tag="llm") == []
    assert _found(client, org, tag="tab") == []  # a whole tag, not a prefix
    assert _found(client, org, "viewer", q="tabular", tag="churn") == ["alpha"]


def test_pages_cover_every_entry_once(org: Org, client: TestClient) -> None:
    first = ok(client.get(CATALOG, params={"limit": 3}, headers=org.headers["admin"]))
    assert len(first["items"]) == 3 and first["next"] == "3"
    params = {"limit": 3, "cursor": first["next"]}
    second = ok(client.get(CATALOG, params=params, headers=org.headers["admin"]))
    assert second["next"] is None
    ids = [h["entry"]["id"] for h in first["items"] + second["items"]]
    assert sorted(ids) == sorted(org.entries.values())


def test_malformed_queries_are_refused(org: Org, client: TestClient) -> None:
    headers = org.headers["viewer"]
    resp = client.get(CATALOG, params={"cursor": "-1"}, headers=headers)
    assert resp.status_code == 422 and resp.json()["code"] == "invalid_cursor"
    assert client.get(CATALOG, params={"q": "x" * 501}, headers=headers).status_code == 422
    assert client.get(CATALOG, params={"source": "stolen"}, headers=headers).status_code == 422
    # FTS5 operators in the text are words, never syntax (no error, no injection)
    assert _found(client, org, q='NEAR(churn "AND" *') == []
    assert client.get(f"{CATALOG}/not-a-uuid", headers=headers).status_code == 422


def test_web_search_syntax_becomes_a_quoted_fts5_query() -> None:
    assert fts5_query("credit risk") == '("credit" AND "risk")'
    assert fts5_query('"credit risk" -fraud') == '("credit risk") NOT "fraud"'
    assert fts5_query("a or b") == '("a") OR ("b")'
    assert fts5_query("-only") is None
    assert fts5_query('NEAR(x) "*"') == '("NEAR x")'  # a word run is a phrase


@pytest.mark.parametrize("fts5", [True, False] if HAS_FTS5 else [False])
def test_ranking_with_and_without_fts5(fts5: bool) -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    docs = [(a, "churn model"), (b, "churn churn churn, churn risk model"), (c, "fraud model")]
    ranked = rank_documents(docs, "churn", fts5=fts5)
    assert [i for i, _ in ranked] == [b, a]
    assert [i for i, _ in rank_documents(docs, "model -fraud", fts5=fts5)] in ([a, b], [b, a])
    assert rank_documents(docs, "", fts5=fts5) == []
