"""``audit.canonical_json`` (orjson for plain values) is the same text as its definition,
``audit.reference_json`` (``json.dumps`` with sorted keys), for every value, or fails alike:
the audit chain hashes that text and an export must be re-verifiable from parsed JSON."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sluicegate.ledger.audit import canonical_json, reference_json

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([2**63 - 1, -(2**63), 2**63, 2**64 - 1, 2**64, -(2**63) - 1])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0.0, -0.0, 1e-4, 9.999e-5, 1e16, 9999999999999998.0, 1e26, 5e-324])
    | st.text()
    | st.text(alphabet=st.characters(max_codepoint=0x3F))
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


def _same(value: Any) -> None:
    try:
        expected = reference_json(value)
    except Exception as exc:
        with pytest.raises(type(exc)):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


@settings(max_examples=1000, deadline=None)
@given(value=values)
def test_canonical_json_is_json_dumps_for_any_value(value: Any) -> None:
    _same(value)


@settings(max_examples=1000, deadline=None)
@given(x=st.floats(allow_nan=False, allow_infinity=False))
def test_every_float(x: float) -> None:
    _same(x)
    _same({"x": x, "list": [x, -x, x / 3]})


def test_values_that_are_not_plain_json() -> None:
    for value in (
        {1: "int key"},
        {"t": (1, 2)},
        {"s": {3, 1, 2}},
        {"d": dt.date(2025, 6, 1), "ts": dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)},
        {"n": np.int64(3), "f": np.float64(0.5), "b": np.bool_(True)},
        {"nan": math.nan},
        {"inf": [math.inf]},
        {"bad": object()},
        {"surrogate": "\ud800"},
        {"big": 10**30},
    ):
        _same(value)


def test_a_real_decision() -> None:
    from sluicegate.rules import decide_records

    decision = decide_records(
        [
            {
                "id": "t",
                "date": "2025-06-01",
                "destination": "IN",
                "item": {"chip": "nvidia-h100-sxm"},
                "quantity": 1699,
                "consignee": {"id": "acme-ä"},
            }
        ],
        regime="us-2025-01-13-ai-diffusion",
    )[0]
    assert canonical_json(decision) == reference_json(decision)
