"""Production windows as training and evaluation data: the rows an endpoint scored, labelled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from governance.core.clock import Clock
from governance.core.errors import InvalidState
from governance.core.settings import Settings
from monitors.capture.schemas import LABEL, TIMESTAMP
from monitors.capture.service import read_window

DEFAULT_SPAN = timedelta(days=7)


@dataclass(frozen=True, kw_only=True, slots=True)
class LabelledWindow:
    """The labelled rows an endpoint logged in ``[start, end)``, oldest first."""

    endpoint: str
    start: datetime
    end: datetime
    table: pa.Table


def latest_labelled_window(
    settings: Settings,
    *,
    project: str,
    endpoint: str,
    clock: Clock,
    span: timedelta = DEFAULT_SPAN,
    min_rows: int = 1,
) -> LabelledWindow:
    """The endpoint's rows of the last ``span`` that carry a label; InvalidState if too few."""
    end = clock.now()
    start = end - span
    rows = read_window(
        settings, project=project, endpoint=endpoint, start=start, end=end, with_labels=True
    )
    labelled = rows.filter(pc.invert(pc.is_null(rows.column(LABEL))))
    if len(labelled) < min_rows:
        raise InvalidState(
            f"endpoint {endpoint!r} has {len(labelled)} labelled rows in the last {span} "
            f"(at least {min_rows} needed)",
            code="no_labelled_window",
        )
    if len(labelled):  # the window is what the rows span, so a rerun reads the same rows
        times = labelled.column(TIMESTAMP)
        start = pc.min(times).as_py()
        end = pc.max(times).as_py() + timedelta(microseconds=1)
    return LabelledWindow(endpoint=endpoint, start=start, end=end, table=labelled)
