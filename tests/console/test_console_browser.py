"""The console in headless Chromium against the real, seeded server (see ``conftest.py``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.console.conftest import AXE, Live

pytestmark = pytest.mark.slow
P = "/api/v1/projects/alpha"
VIEWS = ("lineage", "endpoints", "alerts", "models", "audit")


def open_console(browser: Any, live: Live, role: str, **context: Any) -> Any:
    """A fresh tab at 1366x768, signed in as the principal holding ``role`` in 'alpha'."""
    tab = browser.new_context(viewport={"width": 1366, "height": 768}, **context).new_page()
    tab.goto(live.url + "/")
    token = live.world.admin_token if role == "admin" else live.world.tokens[role]
    tab.fill("#token", token)
    tab.press("#token", "Enter")
    tab.wait_for_selector("#view[data-view]")
    return tab


def visit(tab: Any, live: Live, view: str) -> None:
    """Go to a view and wait until it has rendered."""
    tab.goto(f"{live.url}/#/{view}")
    name = view.split("/")[0]
    tab.wait_for_selector(f"#view[data-view='{name}']")
    assert tab.locator("#nav a[aria-current=page]").get_attribute("href") == f"#/{name}"


def shot(tab: Any, folder: Path, name: str) -> None:
    """Save a screenshot as a test artefact."""
    tab.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_sign_in_explore_a_models_lineage_and_acknowledge_an_alert(
    browser: Any, live: Live, artefacts: Path
) -> None:
    tab = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    tab.goto(live.url + "/")
    tab.fill("#token", "stw_not_a_real_token")
    tab.press("#token", "Enter")
    expect(tab.locator("#signin-error")).to_have_text("That token was not accepted.")
    assert tab.evaluate("sessionStorage.getItem('steward.token')") is None
    tab.close()

    tab = open_console(browser, live, "ml-engineer")
    assert "token" not in tab.url and "stw_" not in tab.url  # never in a URL
    assert tab.evaluate("sessionStorage.getItem('steward.token')").startswith("stw_")
    # the switcher lists only the caller's projects
    assert tab.locator("#project option").all_inner_texts() == ["alpha"]
    query = "kind=model_version&name=scorer&version=1"
    auth = {"Authorization": f"Bearer {live.world.tokens['viewer']}"}
    [v1] = httpx.get(f"{live.url}{P}/lineage/nodes?{query}", headers=auth).json()
    visit(tab, live, f"lineage/{v1['id']}")
    canvas = tab.locator("#lineage-canvas")
    expect(canvas).to_have_attribute("data-drawn", re.compile(r"^([4-9]|\d\d+)$"))
    assert "scorer @1" in tab.locator("#view h1").inner_text()
    status = tab.locator(".lineage .status").inner_text()
    assert "nodes" in status and "edges" in status
    canvas.focus()
    tab.keyboard.press("n")  # keyboard selection of the next node shows its details
    tab.wait_for_selector("aside h3")
    drawn = int(canvas.get_attribute("data-drawn"))
    tab.get_by_role("group", name="Show kinds").get_by_role("checkbox", name="Run").uncheck()
    expect(canvas).not_to_have_attribute("data-drawn", str(drawn))  # runs hidden, no relayout
    tab.locator("#asof").fill("50")  # the as-of slider reloads the graph at that time
    expect(tab.locator(".lineage .status")).to_contain_text(" as of 2026-")
    shot(tab, artefacts, "lineage")

    visit(tab, live, "alerts")
    button = tab.get_by_role("button", name="Acknowledge alert drift data_drift")
    button.click()
    tab.wait_for_selector("#alerts-table .badge:text('acknowledged')")
    alert = httpx.get(f"{live.url}{P}/alerts/{live.seeded.alert_id}", headers=auth).json()
    assert alert["state"] == "acknowledged" and alert["acknowledged_by"] == "user:ml-engineer-user"
    shot(tab, artefacts, "alerts")

    # the viewer signs in with a bearer JWT of the configured OIDC provider, pasted the same way
    viewer = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    viewer.goto(live.url + "/")
    viewer.fill("#token", live.oidc_token)
    viewer.press("#token", "Enter")
    expect(viewer.locator("#me")).to_have_text("viewer-user (viewer)")
    visit(viewer, live, "alerts")
    assert viewer.locator("#alerts-table tbody tr").count() == 1
    assert viewer.get_by_role("button", name="Resolve").count() == 0


def test_only_approvers_see_approve_a_forged_approval_is_refused_and_a_report_opens(
    browser: Any, live: Live, artefacts: Path
) -> None:
    approve = "button[data-approval]"
    for role in ("data-scientist", "viewer"):  # the built-in policy: they never decide
        tab = open_console(browser, live, role)
        visit(tab, live, "models")
        assert tab.locator("table").first.is_visible()
        assert tab.locator(approve).count() == 0, role
    # the viewer forges the request from the page, with its own token: the API refuses it
    assert tab.locator("#me").inner_text() == "viewer-user (viewer)"
    forged = tab.evaluate(
        """async (id) => {
            const r = await fetch(`/api/v1/projects/alpha/approvals/${id}/approve`, {
                method: "POST", body: "{}",
                headers: {"Content-Type": "application/json",
                          Authorization: `Bearer ${sessionStorage.getItem('steward.token')}`}});
            return [r.status, (await r.json()).code];
        }""",
        live.seeded.approval_id,
    )
    assert forged == [403, "permission_denied"]

    engineer = open_console(browser, live, "ml-engineer")  # the project's approver role
    visit(engineer, live, "models")
    assert engineer.locator("text=gate passed").count() == 1
    assert engineer.locator("td:text('accuracy')").count() >= 1
    engineer.locator(approve).click()
    engineer.wait_for_selector("text=approved")
    auth = {"Authorization": f"Bearer {live.world.tokens['viewer']}"}
    done = httpx.get(f"{live.url}{P}/approvals/{live.seeded.approval_id}", headers=auth).json()
    assert done["state"] == "approved" and done["decided_by"] == "user:ml-engineer-user"
    assert done["rollout_id"]
    shot(engineer, artefacts, "models")
    owner = open_console(browser, live, "owner")
    visit(owner, live, "models")

    auditor = open_console(browser, live, "auditor")  # the forged request is on the trail
    visit(auditor, live, "audit")
    auditor.fill("#audit-action", "approval.decide")
    auditor.press("#audit-action", "Enter")
    denied = auditor.locator("tbody tr", has_text="user:viewer-user")
    expect(denied).to_have_count(1)
    expect(denied).to_contain_text("deny")
    # verifying the chain is a platform permission, which a project's auditor does not hold
    expect(auditor.locator("#audit-badge")).to_contain_text("platform auditors only")
    shot(auditor, artefacts, "audit")

    owner.get_by_role("button", name="Report v1").click()
    frame = owner.frame_locator("iframe.report")
    frame.locator("body").wait_for()
    assert "scorer" in frame.locator("body").inner_text()
    # the frame's own screenshot: a page screenshot does not paint a sandboxed frame
    owner.locator("iframe.report").screenshot(path=str(artefacts / "report.png"))


def open_details(tab: Any, view: str) -> None:
    """Open what a view shows on demand, so that the accessibility check covers it too."""
    if view == "endpoints":  # monitor charts, and a feature's drill-down
        assert tab.locator("svg.chart").count() >= 1
        tab.get_by_role("button", name="x1", exact=True).click()
        expect(tab.locator(".drill svg.chart")).to_have_count(1)
        expect(tab.locator(".drill")).to_contain_text("Kolmogorov")
    if view == "lineage":  # the graph's nodes as a list, for keyboards and screen readers
        tab.locator(".listing summary").click()
        tab.locator(".node-list button").first.click()
        tab.wait_for_selector("aside h3")
    if view == "audit":  # the platform owner sees the chain verified against the witness
        expect(tab.locator("#audit-badge")).to_contain_text("chain verified")


def test_every_main_view_has_no_serious_accessibility_violation(
    browser: Any, live: Live, artefacts: Path
) -> None:
    # axe is injected by the test, so this tab alone lets a script the page did not ship run
    tab = open_console(browser, live, "admin", bypass_csp=True)
    found: dict[str, list[str]] = {}
    for view in VIEWS:
        visit(tab, live, view)
        open_details(tab, view)
        tab.add_script_tag(path=str(AXE))
        result = tab.evaluate("async () => (await axe.run(document)).violations")
        bad = [f"{v['id']}: {v['help']}" for v in result if v["impact"] in ("serious", "critical")]
        if bad:
            found[view] = bad
        shot(tab, artefacts, f"a11y-{view}")
    assert not found, found
