"""Drift of an LLM endpoint's prompts without embeddings: their length and their topic.

A prompt's topic is the most specific of the reference's top terms it contains (``(other)``
when none). Each request gets one topic, so topics are a categorical column tested like any
other (the steward preset's chi-square) with the request as its unit; a divergence over term
occurrences (Jensen-Shannon) would count a prompt's correlated words as independent draws and
has no calibrated cut-off. Terms found in most reference prompts (the template's words) and
stop words are not topics. Both columns are tested with the steward preset's tests, Holm's
correction and its smallest window, as data drift does.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import pyarrow as pa

from monitors.runs.inputs import SignalInput
from monitors.runs.llm_signals import outcome, require_columns, values
from monitors.runs.schemas import Metric, SignalOutcome
from monitors.specs.llm_options import LlmPromptDriftOptions
from monitors.specs.schemas import Signal
from monitors.stats.presets import compute_drift
from monitors.stats.reference import build_reference_profile
from monitors.stats.schemas import (
    ColumnKind,
    Correction,
    DataDriftResult,
    DriftConfig,
    Preset,
    Verdict,
)
from monitors.stats.steward_preset import DEFAULT_ALPHA
from monitors.stats.thresholds import small_window_thresholds
from monitors.traces import schemas as t

LENGTH, TOPIC, OTHER = "prompt_length", "prompt_topic", "(other)"
# A term in more than this share of the reference's prompts is template text, not a topic.
MAX_DOCUMENT_SHARE = 0.5
_WORD = re.compile(r"[a-z][a-z0-9]{2,}")
STOP_WORDS = frozenset(
    "the and for are but not you your with this that from have has was were will would "
    "can could should what which who whom when where why how all any some into out about "
    "than then them they their there these those our ours its it's just also very more most "
    "other such only own same too does did doing been being please tell give make".split()
)


def terms(text: str | None, *, bigrams: bool) -> set[str]:
    """The prompt's words (lower case, 3+ characters, no stop words), and adjacent pairs."""
    words = [w for w in _WORD.findall((text or "").lower()) if w not in STOP_WORDS]
    found = set(words)
    if bigrams:
        found |= {f"{a} {b}" for a, b in itertools.pairwise(words)}
    return found


def vocabulary(prompts: Iterable[str | None], *, top: int, bigrams: bool) -> dict[str, int]:
    """The reference's ``top`` terms by the prompts containing them (template words left out)."""
    documents = [terms(p, bigrams=bigrams) for p in prompts]
    frequency = Counter(term for doc in documents for term in doc)
    ceiling = MAX_DOCUMENT_SHARE * len(documents)
    ranked = sorted(
        ((term, n) for term, n in frequency.items() if n <= ceiling and n > 1),
        key=lambda item: (-item[1], item[0]),
    )
    return dict(ranked[:top])


def topic(text: str | None, vocab: dict[str, int], *, bigrams: bool) -> str:
    """The rarest vocabulary term the prompt contains (ties: alphabetical), else ``(other)``."""
    present = [term for term in terms(text, bigrams=bigrams) if term in vocab]
    return min(present, key=lambda term: (vocab[term], term)) if present else OTHER


def _lengths(table: pa.Table, options: LlmPromptDriftOptions) -> list[float | None]:
    if options.length == "tokens":
        return [None if v is None else float(v) for v in values(table, t.INPUT_TOKENS)]
    return [None if p is None else float(len(p)) for p in values(table, t.PROMPT)]


def derived(table: pa.Table, vocab: dict[str, int], options: LlmPromptDriftOptions) -> pa.Table:
    """The two tested columns of a window or reference: prompt length and topic."""
    topics = [topic(p, vocab, bigrams=options.bigrams) for p in values(table, t.PROMPT)]
    return pa.table(
        {
            LENGTH: pa.array(_lengths(table, options), type=pa.float64()),
            TOPIC: pa.array(topics, type=pa.string()),
        }
    )


def _config(options: LlmPromptDriftOptions) -> DriftConfig:
    return DriftConfig(
        preset=Preset.steward,
        drift_share=0.0,  # steward: any drifted column breaches
        correction=Correction.holm,
        alpha=DEFAULT_ALPHA,
        min_window_rows=options.min_window_rows,
        columns=(LENGTH, TOPIC),
        max_workers=1,
    )


def _share(counts: Sequence[str]) -> dict[str, float]:
    total = len(counts) or 1
    return {k: round(n / total, 6) for k, n in Counter(counts).most_common(10)}


def _metrics(result: DataDriftResult) -> list[Metric]:
    """The share of drifted columns (the headline), then each column's test."""
    columns = [
        Metric(
            metric=f"{c.test}_{c.score_kind}",
            feature=c.column,
            value=c.score if c.adjusted_p_value is None else c.adjusted_p_value,
            threshold=c.threshold,
            breached=c.verdict is Verdict.drift,
        )
        for c in result.columns
    ]
    share = Metric(
        metric="share_of_drifted_columns",
        value=result.share_of_drifted_columns,
        threshold=0.0,
        breached=result.dataset_drift,
    )
    return [share, *columns]


def llm_prompt_drift(signal: Signal, data: SignalInput) -> SignalOutcome:
    """Drift of prompt lengths (ks) and topics (chi-square) from the reference's prompts."""
    options = signal.options_as(LlmPromptDriftOptions)
    column = t.INPUT_TOKENS if options.length == "tokens" else t.PROMPT
    require_columns(data.current, (column, t.PROMPT), signal)
    require_columns(data.reference, (column, t.PROMPT), signal)
    vocab = vocabulary(
        values(data.reference, t.PROMPT), top=options.top_terms, bigrams=options.bigrams
    )
    reference, window = (
        derived(data.reference, vocab, options),
        derived(data.current, vocab, options),
    )
    kinds = {LENGTH: ColumnKind.numerical, TOPIC: ColumnKind.categorical}
    profile = build_reference_profile(reference, kinds=kinds)
    config = _config(options)
    result, _ = small_window_thresholds(
        profile, reference, compute_drift(profile, window, config), config
    )
    metrics = _metrics(result)
    summary = {
        "drifted": [c.column for c in result.columns if c.verdict is Verdict.drift],
        "length": options.length,
        "top_terms": list(vocab)[:20],
        "topics": _share(window.column(TOPIC).to_pylist()),
        "reference_topics": _share(reference.column(TOPIC).to_pylist()),
        "window_rows": result.window_rows,
        "min_window_rows": result.min_window_rows,
        "window_large_enough": result.window_large_enough,
        **({} if result.window_large_enough else {"reason": "window too small"}),
    }
    return outcome(signal, data, metrics, summary)
