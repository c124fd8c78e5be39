"""The Adult data shipped in the package, its split, and production traffic with a shift.

Adult (Census Income), UCI Machine Learning Repository, Becker & Kohavi (1996), CC BY 4.0.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TARGET = "income"
POSITIVE = ">50K"
CLASSES = ("<=50K", ">50K")
NUMERIC = ("age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week")
CATEGORICAL = (
    "workclass", "education", "marital-status", "occupation", "relationship", "race", "sex",
    "native-country",
)  # fmt: skip
FEATURES = (*NUMERIC, *CATEGORICAL)


def load_adult() -> pa.Table:
    """The 32,561 rows of adult.data as typed columns; '?' becomes null."""
    import pyarrow.csv as pacsv

    raw = resources.files("steward.demo").joinpath("adult.csv.gz").read_bytes()
    convert = pacsv.ConvertOptions(
        null_values=["?"],
        column_types={name: pa.int64() for name in NUMERIC} | {TARGET: pa.string()},
        strings_can_be_null=True,
    )
    return pacsv.read_csv(io.BytesIO(gzip.decompress(raw)), convert_options=convert)


@dataclass(frozen=True, kw_only=True, slots=True)
class Split:
    """Training rows, held-out validation rows, and the pool production traffic is drawn from.

    The three are disjoint: the monitor's reference is the validation rows scored by the model,
    so it holds predictions a model makes on data it never saw, like production's.
    """

    reference: pa.Table
    validation: pa.Table
    pool: pa.Table


def split(
    table: pa.Table, *, seed: int = 7, reference_share: float = 0.6, validation_share: float = 0.1
) -> Split:
    """A seeded random split."""
    order = np.random.default_rng(seed).permutation(table.num_rows)
    cut = int(table.num_rows * reference_share)
    held = cut + int(table.num_rows * validation_share)
    return Split(
        reference=table.take(order[:cut]),
        validation=table.take(order[cut:held]),
        pool=table.take(order[held:]),
    )


def shift_weights(pool: pa.Table, strength: float) -> np.ndarray:
    """Sampling weights of a population shift: older people, more women, shorter hours."""
    age = pool.column("age").to_numpy(zero_copy_only=False).astype(float)
    hours = pool.column("hours-per-week").to_numpy(zero_copy_only=False).astype(float)
    female = pc.equal(pool.column("sex"), "Female").to_numpy(zero_copy_only=False)
    logits = strength * ((age - 38.0) / 8.0 - (hours - 40.0) / 10.0 + 2.0 * female)
    weights = np.exp(logits - logits.max())
    normalised: np.ndarray = weights / weights.sum()
    return normalised


def pay_reform(table: pa.Table, *, seed: int, rate: float = 0.8) -> tuple[pa.Table, int]:
    """The simulated change in the world behind the labels; the table and how many changed.

    A reform lifts the pay of women with some college or more who work part time (15-34 hours)
    above 50K: ``rate`` of those earning less do. The model never sees sex, and a model trained
    on the old world under-predicts exactly them, so its true-positive rate for women falls
    behind men's: a fairness regression, which retraining on labelled recent traffic can mend
    through the features it does see (education, hours).
    """
    rng = np.random.default_rng(seed)
    female = pc.equal(table.column("sex"), "Female").to_numpy(zero_copy_only=False)
    education = table.column("education-num").to_numpy(zero_copy_only=False)
    hours = table.column("hours-per-week").to_numpy(zero_copy_only=False)
    age = table.column("age").to_numpy(zero_copy_only=False)
    positive = pc.equal(table.column(TARGET), POSITIVE).to_numpy(zero_copy_only=False)
    lifted = female & (education >= 10) & (hours >= 15) & (hours <= 34) & (age >= 25)
    lifted &= ~positive & (rng.random(table.num_rows) < rate)
    income = pa.array(np.where(lifted | positive, POSITIVE, CLASSES[0]))
    return table.set_column(table.column_names.index(TARGET), TARGET, income), int(lifted.sum())


def day_of_traffic(
    pool: pa.Table, *, rows: int, day: int, shifted: bool, seed: int
) -> tuple[pa.Table, int]:
    """One day of requests with their true labels, sampled from the pool; from the shift on,
    another population and the pay reform. The rows and how many labels the reform changed."""
    rng = np.random.default_rng(seed + day)
    weights = shift_weights(pool, 0.6) if shifted else None
    index = rng.choice(pool.num_rows, size=rows, replace=True, p=weights)
    table = pool.take(index)
    return pay_reform(table, seed=seed + 100 * day) if shifted else (table, 0)
