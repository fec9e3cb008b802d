"""What report.html reads of a session record, handed over by the run, equals what it reads back from sessions.json."""

from __future__ import annotations

import json

import hypothesis.strategies as st
import numpy as np
from hypothesis import given

from app.metrics.json_text import to_json
from app.report.run_files import session_view

_floats = st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=64),
                    st.sampled_from([0.0, -0.0, 2.5e-07, 0.0000125, 123.4567895]),
                    st.floats(-1e6, 1e6).map(np.float64))
_symbols = st.sampled_from(["AAPL", "MSFT", "SPY", "BRK.B"])
_stat = st.fixed_dictionaries({"count": st.integers(0, 10**6), "p99_ms": _floats, "max_ms": _floats})
_record = st.fixed_dictionaries(
    {"date": st.just("2024-07-01"), "open": st.just("2024-07-01 09:30:00 America/New_York"),
     "close": st.just("2024-07-01 16:00:00 America/New_York"), "index": st.integers(0, 9)},
    optional={
        "trading": st.fixed_dictionaries({"pnl": _floats, "fills": st.integers(0, 9)}, optional={
            "by_symbol": st.dictionaries(_symbols, st.fixed_dictionaries({"pnl": _floats, "fills": st.integers(0, 9)}))}),
        "quality": st.dictionaries(_symbols, st.fixed_dictionaries(
            {"quality_pct": _floats, "present": st.integers(0, 390), "expected": st.one_of(st.none(), st.integers(0, 390)),
             "missing": st.one_of(st.none(), st.integers(0, 390)), "gap_detection": st.booleans(),
             "gaps": st.lists(st.fixed_dictionaries({"start": st.just("09:31"), "bars": st.integers(1, 5)}),
                              max_size=3)})),
        "metrics": st.fixed_dictionaries({"stages": st.dictionaries(
            st.sampled_from(["coordinator", "data_processor", "analysis_engine", "session_gap"]), _stat)}),
    })


@given(_record)
def test_the_view_of_a_record_equals_the_view_of_its_json(record):
    got = session_view(record)

    again = session_view(json.loads(to_json(record)))
    assert json.dumps(got) == json.dumps(again)  # the same values, in the same key order
