"""Deterministic evaluators equal azure-ai-evaluation 1.18 on 200 shipped cases (to 1e-12)."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nltk
import pytest

from monitors.evaluators import text

CASES = [
    json.loads(line)
    for line in (Path(__file__).parent / "data" / "cases.jsonl").read_text("utf-8").splitlines()
]
WORDNET = [Path("/usr/share/wordnet")]


def _zip(target: Path, folder: Path, arcroot: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{arcroot}/{path.relative_to(folder)}")


def _refuse_download(*args: Any, **kwargs: Any) -> bool:
    raise AssertionError("a test tried to download NLTK data")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Azure's evaluators, finding the same NLTK data as ours (zipped where azure checks zips)."""
    data = text.prepare(tmp_path_factory.mktemp("cache"), wordnet_dirs=WORDNET)
    assert data.wordnet, "WordNet 3.0 (Debian wordnet-base) is required on the test machine"
    azure_dir = tmp_path_factory.mktemp("azure_nltk")
    _zip(azure_dir / "corpora/wordnet.zip", data.root / "corpora/wordnet", "wordnet")
    _zip(azure_dir / "misc/perluniprops.zip", data.root / "misc/perluniprops", "perluniprops")
    shipped = Path(text.__file__).parent / "nltk_data/tokenizers/punkt_tab"
    _zip(azure_dir / "tokenizers/punkt_tab.zip", shipped, "punkt_tab")
    # Azure also checks for the old pickled punkt, which NLTK 3.9+ never reads (punkt_tab instead).
    _zip(azure_dir / "tokenizers/punkt.zip", shipped, "punkt")
    nltk.data.path.append(str(azure_dir))
    original, nltk.download = nltk.download, _refuse_download
    from azure.ai.evaluation import (
        BleuScoreEvaluator,
        F1ScoreEvaluator,
        GleuScoreEvaluator,
        MeteorScoreEvaluator,
        RougeScoreEvaluator,
        RougeType,
    )

    yield {
        "f1": F1ScoreEvaluator(),
        "bleu": BleuScoreEvaluator(),
        "gleu": GleuScoreEvaluator(),
        "meteor": MeteorScoreEvaluator(),
        "rouge1": RougeScoreEvaluator(rouge_type=RougeType.ROUGE_1),
        "rouge2": RougeScoreEvaluator(rouge_type=RougeType.ROUGE_2),
        "rougeL": RougeScoreEvaluator(rouge_type=RougeType.ROUGE_L),
    }
    nltk.download = original
    nltk.data.path.remove(str(azure_dir))


def _close(ours: float, theirs: Any) -> bool:
    return abs(ours - float(theirs)) <= 1e-12


def test_cases_cover_the_hard_kinds() -> None:
    """The shipped cases hold exact, empty-ish, non-ASCII and numeric answers."""
    assert len(CASES) == 200
    assert any(c["response"] == c["ground_truth"] for c in CASES)
    assert any(not c["response"].strip() for c in CASES)
    assert sum(not c["response"].isascii() for c in CASES) >= 5
    assert any(any(ch.isdigit() for ch in c["response"]) for c in CASES)


@pytest.mark.parametrize(
    ("ours", "key", "field"),
    [
        (text.f1_score, "f1", "f1_score"),
        (text.bleu, "bleu", "bleu_score"),
        (text.gleu, "gleu", "gleu_score"),
        (text.meteor, "meteor", "meteor_score"),
    ],
)
def test_scores_equal_azure(reference: dict[str, Any], ours: Any, key: str, field: str) -> None:
    """F1, BLEU, GLEU and METEOR equal azure's on every case."""
    wrong = []
    for case in CASES:
        theirs = reference[key](response=case["response"], ground_truth=case["ground_truth"])
        mine = ours(case["response"], case["ground_truth"])
        if not _close(mine, theirs[field]):
            wrong.append((case, mine, theirs[field]))
    assert not wrong, wrong[:3]


@pytest.mark.parametrize("kind", ["rouge1", "rouge2", "rougeL"])
def test_rouge_equals_azure(reference: dict[str, Any], kind: str) -> None:
    """ROUGE precision, recall and F-measure equal azure's on every case."""
    values = []
    for case in CASES:
        theirs = reference[kind](response=case["response"], ground_truth=case["ground_truth"])
        mine = text.rouge(kind, case["response"], case["ground_truth"])
        values.append(mine.fmeasure)
        assert _close(mine.precision, theirs["rouge_properties"]["rouge_precision"]), case
        assert _close(mine.recall, theirs["rouge_properties"]["rouge_recall"]), case
        assert _close(mine.fmeasure, theirs["rouge_properties"]["rouge_f1_score"]), case
        assert _close(mine.fmeasure, theirs["rouge_score"]), case
    assert 0 < sum(v == 0 for v in values) < len(values)  # the cases are not all alike


def test_meteor_is_refused_without_wordnet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No WordNet anywhere: METEOR raises evaluator_unavailable instead of scoring."""
    monkeypatch.setattr(nltk.data, "path", [])  # NLTK's own search path holds no wordnet either
    data = text.prepare(tmp_path, wordnet_dirs=[tmp_path / "nowhere"])
    assert not data.wordnet
    with pytest.raises(text.EvaluatorUnavailable) as caught:
        text.require_meteor(data)
    assert caught.value.code == "evaluator_unavailable"


def test_lexnames_match_wordnet_30() -> None:
    """The generated lexnames file has WordNet 3.0's 45 lexicographer files."""
    lines = text.lexnames().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3"
    assert lines[18] == "18\tnoun.person\t1"
    assert lines[44] == "44\tadj.ppl\t3"
