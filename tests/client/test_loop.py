"""Pipelines and their runs, monitors and their results as a frame, alerts, and reports."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from steward.client import Conflict, Steward, verify
from tests.client.test_capture import SIG
from tests.monitors.runs.traffic import T0, age_sex_day, age_sex_reference
from tests.retrain.pipelines.conftest import table
from tests.retrain.pipelines.test_pipelines_api import spec

MONITOR = """
name: drift
target: {name: scorer}
reference: {dataset: ref}
schedule: {interval: P1D, start: "2026-03-01T00:00:00Z"}
signals:
  - {kind: data_drift, name: age-drift, features: [age]}
"""


def test_a_pipeline_is_applied_launched_and_followed(steward: Steward) -> None:
    steward.datasets.upload("train-data", table())
    applied = steward.pipelines.apply(spec())
    assert applied.version == 1 and steward.pipelines.apply(spec()).version == 1
    assert [p.name for p in steward.pipelines.list()] == ["retrain"]
    queued = steward.pipelines.launch("retrain", launch_key="nightly")
    assert steward.pipelines.launch("retrain", launch_key="nightly").id == queued.id
    run = steward.pipelines.wait(queued.id, timeout=60, poll=0.05)
    assert run.state == "succeeded" and run.outputs["train.model"]["model"] == "scorer"
    assert [r.id for r in steward.pipelines.runs(pipeline="retrain")] == [queued.id]
    assert steward.pipelines.logs(run.id, "train").ended
    assert steward.models.get("scorer").version == 1
    with pytest.raises(Conflict):  # an ended run cannot be cancelled
        steward.pipelines.cancel(run.id)


def test_monitors_run_and_their_results_come_back_as_a_frame(
    steward: Steward, admin: Steward
) -> None:
    steward.models.register("income", signature=SIG, sha256="0" * 64)
    steward.endpoints.create("scorer")
    steward.endpoints.deploy("scorer", "income")
    steward.datasets.upload("ref", age_sex_reference(1000))
    steward.log_inferences("scorer", age_sex_day(0, 500, shift=0.0, minutes=2))
    steward.log_inferences("scorer", age_sex_day(2, 500, shift=40.0, minutes=2))
    assert [m.name for m in steward.monitors.apply(MONITOR)] == ["drift"]
    calm = steward.monitors.run("drift", window_end=T0 + timedelta(days=1))
    shifted = steward.monitors.run("drift", window_end=T0 + timedelta(days=3))
    assert (calm.run.breached, shifted.run.breached) == (False, True) and shifted.created
    assert steward.monitors.runs("drift")[0].window_end == T0 + timedelta(days=3)
    frame = steward.monitors.results_frame("drift", signal="age-drift")
    assert isinstance(frame, pd.DataFrame) and set(frame["window_end"].dt.day) == {2, 4}
    assert frame.groupby("window_end")["breached"].any().tolist() == [False, True]
    assert len(steward.monitors.results("drift")) == len(steward.monitors.results_frame("drift"))
    alert = steward.alerts.list(state="open")[0]
    assert alert.monitor == "drift"
    assert steward.alerts.acknowledge(alert, note="looking").state == "acknowledged"
    assert steward.alerts.resolve(alert.id).resolved_by is not None
    assert (
        steward.alerts.list(state="open") == [] and steward.alerts.get(alert.id).state == "resolved"
    )


def test_reports_are_downloaded_stored_and_verified_offline(
    steward: Steward, admin: Steward
) -> None:
    steward.models.register("income", signature=SIG, sha256="1" * 64)
    report = steward.reports.model("income", 1, format="md")
    assert report.filename.endswith(".md") and report.media_type.startswith("text/")
    key = admin.reports.public_key()
    assert verify(report, key=key).ok
    tampered = report.content.replace(b"income", b"incone", 1)
    assert verify(tampered, key=key).reasons
    stored = admin.reports.create("model", model="income", version=1, format="json")
    assert [r.id for r in admin.reports.list(model="income")] == [stored.id]
    downloaded = admin.reports.download(stored)
    assert verify(downloaded, key=key).ok and len(downloaded.content) == stored.size
