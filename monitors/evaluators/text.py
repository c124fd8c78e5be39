"""Deterministic text metrics giving azure-ai-evaluation 1.18's numbers (same libraries and data).

F1 is the SQuAD token F1; BLEU (NIST smoothing, method 4), GLEU and METEOR are NLTK's sentence
scores over NLTK tokens; ROUGE is Google's ``rouge_score`` without stemming. Nothing downloads:
the English punkt tables ship in ``nltk_data/``, Perl Unicode property tables are generated from
``unicodedata``, and WordNet comes from an NLTK corpus on ``nltk.data.path`` or from WordNet 3.0
dict files on disk (Debian's ``wordnet-base``), copied into an NLTK-shaped folder under a cache.
"""

from __future__ import annotations

import re
import shutil
import string
import sys
import tempfile
import threading
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from governance.core.errors import Unavailable

_SHIPPED = Path(__file__).resolve().parent / "nltk_data"
_WORDNET_FILES = (
    "adj.exc", "adv.exc", "noun.exc", "verb.exc",
    "data.adj", "data.adv", "data.noun", "data.verb",
    "index.adj", "index.adv", "index.noun", "index.verb",
)  # fmt: skip
# The 45 WordNet 3.0 lexicographer files (lexnames(5WN)); NLTK's reader needs them but Debian's
# wordnet-base does not install the file. Format: number, name, syntactic category.
_LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute "
    "noun.body noun.cognition noun.communication noun.event noun.feeling noun.food noun.group "
    "noun.location noun.motive noun.object noun.person noun.phenomenon noun.plant "
    "noun.possession noun.process noun.quantity noun.relation noun.shape noun.state "
    "noun.substance noun.time verb.body verb.change verb.cognition verb.communication "
    "verb.competition verb.consumption verb.contact verb.creation verb.emotion verb.motion "
    "verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
_POS_NUMBER = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
# NLTK's NIST tokenizer (non-ASCII text) reads these Perl Unicode properties: \p{N} \p{P} \p{S}.
_PROPERTIES = {"Number": "N", "Punctuation": "P", "Symbol": "S"}
_LOCK = threading.Lock()
_OURS: set[str] = set()


class EvaluatorUnavailable(Unavailable):
    """An evaluator cannot run on this server (its data is missing); it is refused, never 0."""

    code = "evaluator_unavailable"


@dataclass(frozen=True, kw_only=True, slots=True)
class Rouge:
    """ROUGE precision, recall and F-measure (F-measure is the evaluator's value)."""

    precision: float
    recall: float
    fmeasure: float


@dataclass(frozen=True, kw_only=True, slots=True)
class TextData:
    """Where the NLTK data of this process lives and whether METEOR can run."""

    root: Path
    wordnet: bool


def lexnames() -> str:
    """The WordNet 3.0 ``lexnames`` file text."""
    return "".join(
        f"{i:02d}\t{name}\t{_POS_NUMBER[name.split('.')[0]]}\n" for i, name in enumerate(_LEXNAMES)
    )


def _property_chars(category: str) -> str:
    return "".join(
        ch
        for ch in map(chr, range(sys.maxunicode + 1))
        if unicodedata.category(ch).startswith(category) and not 0xD800 <= ord(ch) <= 0xDFFF
    )


def _write_perluniprops(root: Path) -> None:
    folder = root / "misc" / "perluniprops"
    folder.mkdir(parents=True, exist_ok=True)
    for name, category in _PROPERTIES.items():
        (folder / f"{name}.txt").write_text(_property_chars(category), encoding="utf-8")


def _is_wordnet_dict(folder: Path) -> bool:
    return all((folder / name).is_file() for name in _WORDNET_FILES)


def _link_wordnet(root: Path, source: Path) -> None:
    folder = root / "corpora" / "wordnet"
    folder.mkdir(parents=True, exist_ok=True)
    for name in _WORDNET_FILES:
        _place(source / name, folder / name)
    for optional in ("lexnames", "index.sense"):
        if (source / optional).is_file():
            _place(source / optional, folder / optional)
    if not (folder / "lexnames").exists():
        (folder / "lexnames").write_text(lexnames(), encoding="utf-8")
    if not (folder / "index.sense").exists():
        # Only the multilingual (OMW) mapping reads sense keys; METEOR never does. An empty index
        # keeps NLTK's reader from failing on Debian's package, which does not ship the file.
        (folder / "index.sense").write_text("", encoding="utf-8")


def _place(source: Path, target: Path) -> None:
    """Copy: NLTK refuses symlinks that leave the corpus root and multiply-linked files."""
    shutil.copyfile(source, target)


def _nltk_has_wordnet() -> bool:
    import nltk  # type: ignore[import-untyped]

    foreign = [p for p in nltk.data.path if p not in _OURS]
    for resource in ("corpora/wordnet", "corpora/wordnet.zip"):
        try:
            nltk.data.find(resource, paths=foreign)
        except LookupError:
            continue
        return True
    return False


def _build(root: Path, source: Path | None) -> None:
    """Fill ``root`` atomically: build beside it, then rename (concurrent builders are fine)."""
    root.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".nltk-", dir=root.parent))
    try:
        _write_perluniprops(work)
        if source is not None:
            _link_wordnet(work, source)
        work.rename(root)
    except OSError:
        if not root.is_dir():
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _use(search: list[str], root: Path) -> None:
    """Put the shipped data and ``root`` first on NLTK's path.

    Roots used before stay on it: NLTK's WordNet reader is loaded once per process, opens its
    files lazily, and NLTK refuses to read a corpus file outside the current search path.
    """
    _OURS.update({str(_SHIPPED), str(root)})
    search[:] = [
        str(_SHIPPED),
        str(root),
        *(p for p in search if p not in (str(_SHIPPED), str(root))),
    ]


def prepare(cache_dir: Path, *, wordnet_dirs: Sequence[Path] = ()) -> TextData:
    """Make NLTK find its data under ``cache_dir`` (built once) and the shipped punkt tables."""
    import nltk

    source = next((d for d in wordnet_dirs if _is_wordnet_dict(d)), None)
    key = "wordnet" if source is not None else "plain"
    root = cache_dir / f"nltk-{key}-u{unicodedata.unidata_version}"
    with _LOCK:
        if not root.is_dir():
            _build(root, source)
        _use(nltk.data.path, root)
        wordnet = source is not None or _nltk_has_wordnet()
        if wordnet:
            from nltk.corpus import wordnet as reader  # type: ignore[import-untyped]

            reader.ensure_loaded()  # loading is not thread-safe: do it once, under the lock
    return TextData(root=root, wordnet=wordnet)


def require_meteor(data: TextData) -> None:
    """Refuse METEOR when no WordNet was found (configuration time, not a silent 0)."""
    if not data.wordnet:
        raise EvaluatorUnavailable(
            "meteor needs WordNet 3.0: install Debian's wordnet-base (or NLTK's wordnet corpus)"
        )


def tokenize(text: str) -> list[str]:
    """NLTK word tokens; NIST international tokens when the text is not ASCII (as azure does)."""
    import nltk

    if not text.isascii():
        from nltk.tokenize.nist import NISTTokenizer  # type: ignore[import-untyped]

        return list(NISTTokenizer().international_tokenize(text))
    return list(nltk.word_tokenize(text))


def _normalize(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def f1_score(response: str, ground_truth: str) -> float:
    """SQuAD token F1 between the normalized answer and ground truth."""
    predicted, expected = _normalize(response).split(), _normalize(ground_truth).split()
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision = 1.0 * common / len(predicted)
    recall = 1.0 * common / len(expected)
    return (2.0 * precision * recall) / (precision + recall)


def bleu(response: str, ground_truth: str) -> float:
    """Sentence BLEU with NIST geometric smoothing (NLTK method 4)."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu  # type: ignore[import-untyped]

    smoothing = SmoothingFunction().method4
    score: Any = sentence_bleu(
        [tokenize(ground_truth)], tokenize(response), smoothing_function=smoothing
    )
    return float(score)


def gleu(response: str, ground_truth: str) -> float:
    """Google's sentence GLEU (NLTK)."""
    from nltk.translate.gleu_score import sentence_gleu  # type: ignore[import-untyped]

    return float(sentence_gleu([tokenize(ground_truth)], tokenize(response)))


def meteor(
    response: str, ground_truth: str, *, alpha: float = 0.9, beta: float = 3.0, gamma: float = 0.5
) -> float:
    """METEOR with WordNet synonyms (NLTK); call ``prepare`` and ``require_meteor`` first."""
    from nltk.translate.meteor_score import meteor_score  # type: ignore[import-untyped]

    return float(
        meteor_score(
            [tokenize(ground_truth)], tokenize(response), alpha=alpha, beta=beta, gamma=gamma
        )
    )


def rouge(kind: str, response: str, ground_truth: str) -> Rouge:
    """ROUGE of ``kind`` ("rouge1", "rouge2", "rougeL") with rouge_score's default tokenizer."""
    from rouge_score import rouge_scorer  # type: ignore[import-untyped]

    found = rouge_scorer.RougeScorer([kind]).score(ground_truth, response)[kind]
    return Rouge(
        precision=float(found.precision), recall=float(found.recall), fmeasure=float(found.fmeasure)
    )
