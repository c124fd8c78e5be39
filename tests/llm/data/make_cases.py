"""Generate ``cases.jsonl``: 200 seeded (response, ground_truth) pairs for the parity tests.

Run ``python tests/llm/data/make_cases.py`` to regenerate; the output is deterministic.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

FACTS = [
    ("What is the capital of France?", "The capital of France is Paris."),
    ("Who wrote Pride and Prejudice?", "Jane Austen wrote Pride and Prejudice in 1813."),
    ("How many legs does a spider have?", "A spider has eight legs."),
    ("What does the model monitor check?", "It checks the input data for drift every hour."),
    ("When was the endpoint deployed?", "The endpoint was deployed on 3 March 2024 at 14:05."),
    ("What is the boiling point of water?", "Water boils at 100 degrees Celsius at sea level."),
    ("Why did the retrain job fail?", "The retrain job failed because the dataset was empty."),
    ("Which planet is the largest?", "Jupiter is the largest planet in the solar system."),
    (
        "How much does the premium plan cost?",
        "The premium plan costs $49.99 per month, billed yearly.",
    ),
    (
        "What is photosynthesis?",
        "Photosynthesis is how plants turn light, water and CO2 into sugar.",
    ),
    ("Who can approve a deployment?", "Only an owner or an ML engineer can approve a deployment."),
    (
        "What's the refund policy?",
        "Refunds are available within 30 days of purchase, no questions asked.",
    ),
    ("Where is the Eiffel Tower?", "The Eiffel Tower stands in Paris, on the Champ de Mars."),
    ("How do I reset my password?", "Click 'Forgot password', then follow the e-mail's link."),
    (
        "What is the accuracy of model v7?",
        "Model v7 reached 0.913 accuracy and 0.87 F1 on the holdout set.",
    ),
    ("Describe the outage.", "The API was down for 42 minutes; requests returned HTTP 503."),
]
SYNONYMS = {
    "capital": "chief city",
    "wrote": "authored",
    "legs": "limbs",
    "checks": "inspects",
    "deployed": "released",
    "boils": "starts boiling",
    "failed": "broke",
    "largest": "biggest",
    "costs": "is priced at",
    "turn": "convert",
    "approve": "sign off",
    "available": "possible",
    "stands": "is located",
    "Click": "Press",
    "reached": "achieved",
    "down": "unavailable",
    "empty": "blank",
    "every": "each",
    "plants": "vegetation",
    "owner": "proprietor",
}
FILLERS = ["Well,", "I think", "Honestly,", "In short:", "As far as I know,", "Basically,"]
EMPTYISH = ["", " ", "N/A", "I don't know.", "?", "...", "ok"]
NON_ASCII = [
    ("Le café coûte 3,50 € à Paris.", "Un café coûte 3,50 € à Paris."),
    ("Zürich liegt in der Schweiz, nicht in Österreich.", "Zürich ist eine Stadt in der Schweiz."),
    ("東京は日本の首都です。", "日本の首都は東京です。"),
    ("The naïve approach — résumé parsing — failed.", "The naive résumé parser failed."),
    ("Temperature: 21 °C ± 0.5", "The temperature was 21 °C."),
    ("São Paulo é a maior cidade do Brasil.", "A maior cidade do Brasil é São Paulo."),
]


def paraphrase(rng: random.Random, text: str) -> str:
    """Swap some words for synonyms and maybe prepend a filler."""
    words = [SYNONYMS.get(w, w) if rng.random() < 0.6 else w for w in text.split()]
    if rng.random() < 0.4:
        words.insert(0, rng.choice(FILLERS))
    return " ".join(words)


def partial(rng: random.Random, text: str) -> str:
    """Keep a random contiguous part of the words."""
    words = text.split()
    start = rng.randrange(len(words))
    return " ".join(words[start : start + rng.randint(1, len(words))])


def shuffled(rng: random.Random, text: str) -> str:
    """Reorder the words (same bag, different n-grams)."""
    words = text.split()
    rng.shuffle(words)
    return " ".join(words)


def punctuated(rng: random.Random, text: str) -> str:
    """Change punctuation and case, keep the words."""
    text = text.rstrip(".") + rng.choice(["!", "?!", "...", " :)", ";", ""])
    return text.upper() if rng.random() < 0.3 else text.lower()


def case(rng: random.Random, index: int) -> dict[str, str]:
    """One case: a kind chosen by index so every kind is represented."""
    query, truth = FACTS[index % len(FACTS)]
    kind = index % 10
    if kind == 9 and index % 20 == 9:
        response, truth = NON_ASCII[(index // 20) % len(NON_ASCII)]
        return {"query": query, "response": response, "ground_truth": truth}
    makers = {
        0: lambda: truth,
        1: lambda: paraphrase(rng, truth),
        2: lambda: paraphrase(rng, truth),
        3: lambda: partial(rng, truth),
        4: lambda: shuffled(rng, truth),
        5: lambda: punctuated(rng, truth),
        6: lambda: rng.choice(EMPTYISH),
        7: lambda: FACTS[(index + 5) % len(FACTS)][1],
        8: lambda: truth + " " + paraphrase(rng, FACTS[(index + 3) % len(FACTS)][1]),
        9: lambda: partial(rng, paraphrase(rng, truth)),
    }
    return {"query": query, "response": makers[kind](), "ground_truth": truth}


def main() -> None:
    """Write the 200 cases beside this script."""
    rng = random.Random(20261207)
    lines = [json.dumps(case(rng, i), ensure_ascii=False) for i in range(200)]
    out = Path(__file__).with_name("cases.jsonl")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
