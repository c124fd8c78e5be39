"""Drill-down: evidently's HTML report for the columns, tests and thresholds of a drift result."""

from __future__ import annotations

from typing import Any

from monitors.stats.columns import TableLike, as_columns
from monitors.stats.schemas import ColumnKind, DataDriftResult, StatTestName

# tests evidently does not know (Chebyshev, the contingency chi-square) are left to its own
# choice in the report
UNKNOWN_TO_EVIDENTLY = {StatTestName.chebyshev, StatTestName.chi2_contingency}
EVIDENTLY_NAMES = {test: test.value for test in StatTestName if test not in UNKNOWN_TO_EVIDENTLY}
EVIDENTLY_NAMES[StatTestName.tvd] = "TVD"


def _frame(data: TableLike, columns: list[str]) -> Any:
    import pyarrow as pa

    table = as_columns(data)
    return pa.table({name: table[name] for name in columns if name in table}).to_pandas()


def render_drift_report(reference: TableLike, current: TableLike, result: DataDriftResult) -> str:
    """Return a standalone HTML page of evidently's DataDriftPreset for ``result``'s columns."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    names = [c.column for c in result.columns if c.current_size > 0]
    tested = [c for c in result.columns if c.column in names]
    definition = DataDefinition(
        numerical_columns=[c.column for c in tested if c.kind is ColumnKind.numerical],
        categorical_columns=[c.column for c in tested if c.kind is ColumnKind.categorical],
    )
    preset = DataDriftPreset(
        columns=names,
        drift_share=result.drift_share,
        per_column_method={
            c.column: EVIDENTLY_NAMES[c.test] for c in tested if c.test in EVIDENTLY_NAMES
        },
        per_column_threshold={c.column: c.threshold for c in tested if c.test in EVIDENTLY_NAMES},
    )
    snapshot = Report([preset]).run(
        Dataset.from_pandas(_frame(current, names), data_definition=definition),
        Dataset.from_pandas(_frame(reference, names), data_definition=definition),
    )
    html: str = snapshot.get_html_str(as_iframe=False)
    return html
