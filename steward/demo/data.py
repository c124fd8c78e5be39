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
    """Sampling weights of a population shift: older people, more women, longer hours."""
    age = pool.column("age").to_numpy(zero_copy_only=False).astype(float)
    hours = pool.column("hours-per-week").to_numpy(zero_copy_only=False).astype(float)
    female = pc.equal(pool.column("sex"), "Female").to_numpy(zero_copy_only=False)
    logits = strength * ((age - 38.0) / 8.0 + (hours - 40.0) / 10.0 + 1.2 * female)
    weights = np.exp(logits - logits.max())
    normalised: np.ndarray = weights / weights.sum()
    return normalised


def day_of_traffic(pool: pa.Table, *, rows: int, day: int, shifted: bool, seed: int) -> pa.Table:
    """One day of requests sampled from the pool (with the shift when ``shifted``)."""
    rng = np.random.default_rng(seed + day)
    weights = shift_weights(pool, 0.6) if shifted else None
    index = rng.choice(pool.num_rows, size=rows, replace=True, p=weights)
    return pool.take(index)
