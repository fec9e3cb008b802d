"""GapFiller: missing bars become re-requests; an answer fills, confirms no trades, or retries."""

from __future__ import annotations

import numpy as np
import pytest
from app.bars.gapfill import FillRequest, GapFiller
from app.store.bar import BarArrays
from hypothesis import given, settings
from hypothesis import strategies as st

M = 60_000_000_000
RETRY = 30_000_000_000


def starts(*minutes: int) -> np.ndarray:
    return np.array([m * M for m in minutes], dtype=np.int64)


def row_values(minute: int, tag: float = 0.0) -> tuple[float, float, float, float, float]:
    base = 100.0 + minute + tag
    return (base, base + 1.0, base - 1.0, base + 0.5, 1000.0 + minute + tag)


def answer(*minutes: int, tag: float = 0.0) -> BarArrays:
    rows = [row_values(m, tag) for m in minutes]
    cols = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
    return BarArrays(starts(*minutes), *(np.array(c, dtype=np.float64) for c in cols))


def filler(symbols=("A",), max_retries=3, retry=RETRY) -> GapFiller:
    return GapFiller(list(symbols), max_retries, retry)


def test_scan_marks_expected_absent_starts_pending_and_counts_new_ones():
    gf = filler()
    assert gf.scan("A", starts(0, 1, 2, 3), starts(0, 2), now_ns=5) == 2
    assert gf.symbols["A"].pending == {1 * M: [0, 5], 3 * M: [0, 5]}
    assert gf.scan("A", starts(0, 1, 2, 3, 4), starts(0, 2), now_ns=9) == 1
    assert gf.symbols["A"].pending[1 * M] == [0, 5]  # not reset by a rescan
    assert gf.symbols["A"].pending[4 * M] == [0, 9]


def test_a_bar_in_the_answer_is_filled_with_its_values():
    gf = filler()
    gf.scan("A", starts(0, 1, 2), starts(0, 2), now_ns=0)
    [req] = gf.requests(0, 3 * M)
    gf.resolve(req, answer(0, 1, 2, tag=0.25), now_ns=1)
    fills = gf.symbols["A"]
    assert fills.filled == {1 * M: row_values(1, 0.25)}
    assert all(type(x) is float for x in fills.filled[1 * M])
    assert fills.pending == {} and fills.no_trades == set() and fills.missing == set()
    assert fills.requests == 1 and fills.failed_requests == 0
    assert gf.requests(10**18, 3 * M) == []


def test_an_absent_bar_before_a_later_answered_one_is_no_trades_and_never_asked_again():
    gf = filler()
    gf.scan("A", starts(0, 1, 2, 3), starts(0), now_ns=0)
    [req] = gf.requests(0, 4 * M)
    gf.resolve(req, answer(2), now_ns=0)
    fills = gf.symbols["A"]
    assert fills.filled == {2 * M: row_values(2)}
    assert fills.no_trades == {1 * M}
    assert set(fills.pending) == {3 * M}  # nothing later in the answer: not final yet
    assert fills.pending[3 * M] == [1, RETRY]
    gf.scan("A", starts(0, 1, 2, 3), starts(0), now_ns=RETRY)
    [again] = gf.requests(RETRY, 4 * M)
    assert again.starts == (3 * M,)


def test_unanswered_bars_are_retried_an_interval_apart_then_missing_after_max_retries():
    gf = filler(max_retries=3)
    gf.scan("A", starts(0, 1), starts(0), now_ns=100)
    now, asked_at = 100, []
    for _ in range(20):
        reqs = gf.requests(now, 2 * M)
        if reqs:
            [req] = reqs
            assert req.starts == (1 * M,)
            asked_at.append(now)
            gf.resolve(req, answer(), now_ns=now)
        if not gf.symbols["A"].pending:
            break
        now += RETRY // 3
    assert asked_at == [100, 100 + RETRY, 100 + 2 * RETRY]
    fills = gf.symbols["A"]
    assert fills.missing == {1 * M} and fills.pending == {}
    assert fills.requests == 3 and fills.failed_requests == 0
    assert gf.requests(10**18, 2 * M) == []


def test_a_failed_request_counts_an_attempt_and_a_failed_request():
    gf = filler(max_retries=2)
    gf.scan("A", starts(0, 1, 2), starts(0), now_ns=0)
    [req] = gf.requests(0, 3 * M)
    gf.resolve(req, None, now_ns=7)
    fills = gf.symbols["A"]
    assert fills.pending == {1 * M: [1, 7 + RETRY], 2 * M: [1, 7 + RETRY]}
    assert fills.requests == 1 and fills.failed_requests == 1
    assert gf.requests(7 + RETRY - 1, 3 * M) == []
    [req] = gf.requests(7 + RETRY, 3 * M)
    gf.resolve(req, None, now_ns=7 + RETRY)
    assert fills.missing == {1 * M, 2 * M} and fills.pending == {}
    assert fills.requests == 2 and fills.failed_requests == 2


def test_a_request_that_came_back_with_an_empty_answer_counts_an_attempt_but_did_not_fail():
    gf = filler()
    gf.scan("A", starts(0, 1), starts(0), now_ns=0)
    [req] = gf.requests(0, 2 * M)
    gf.resolve(req, answer(), now_ns=0)
    assert gf.symbols["A"].pending == {1 * M: [1, RETRY]}
    assert gf.symbols["A"].failed_requests == 0


@pytest.mark.parametrize("outcome", ["filled", "no_trades", "missing"])
def test_a_resolved_bar_is_not_pending_again_after_a_later_scan(outcome):
    gf = filler(max_retries=1)
    gf.scan("A", starts(0, 1), starts(0), now_ns=0)
    [req] = gf.requests(0, 3 * M)
    reply = {"filled": answer(1), "no_trades": answer(2), "missing": answer()}[outcome]
    gf.resolve(req, reply, now_ns=0)
    fills = gf.symbols["A"]
    assert 1 * M in getattr(fills, outcome)
    assert gf.scan("A", starts(0, 1, 2), starts(0, 2), now_ns=RETRY) == 0
    assert fills.pending == {}
    assert gf.requests(10**18, 3 * M) == []


def test_requests_only_include_bars_that_are_due():
    gf = filler()
    gf.scan("A", starts(0, 1), starts(), now_ns=0)
    [req] = gf.requests(0, 5 * M)
    gf.resolve(req, answer(), now_ns=0)  # both retry at RETRY
    gf.scan("A", starts(0, 1, 2, 3), starts(), now_ns=RETRY - 1)  # 2 and 3 due at RETRY - 1
    [req] = gf.requests(RETRY - 1, 5 * M)
    assert req == FillRequest("A", 2 * M, 5 * M, (2 * M, 3 * M))
    assert gf.requests(-1, 5 * M) == []


def test_the_request_range_runs_from_the_earliest_due_start_to_the_horizon():
    gf = filler(symbols=("A", "B"))
    gf.scan("A", starts(0, 1, 2, 3, 4, 5), starts(0, 2, 4), now_ns=0)
    gf.scan("B", starts(0, 1, 2, 3, 4, 5), starts(0, 1, 2, 3, 4, 5), now_ns=0)
    assert gf.requests(0, 6 * M) == [FillRequest("A", 1 * M, 6 * M, (1 * M, 3 * M, 5 * M))]


def test_one_request_per_symbol_with_due_bars():
    gf = filler(symbols=("A", "B", "C"))
    gf.scan("A", starts(0, 1), starts(), now_ns=0)
    gf.scan("C", starts(3), starts(), now_ns=0)
    assert gf.requests(0, 4 * M) == [
        FillRequest("A", 0, 4 * M, (0, 1 * M)), FillRequest("C", 3 * M, 4 * M, (3 * M,))]


def test_no_request_when_the_horizon_is_not_after_the_earliest_due_bar():
    gf = filler()
    gf.scan("A", starts(2), starts(), now_ns=0)
    assert gf.requests(0, 2 * M) == []
    assert len(gf.requests(0, 2 * M + 1)) == 1


def test_answer_bars_outside_the_request_range_are_ignored():
    gf = filler()
    gf.scan("A", starts(0, 1, 2), starts(), now_ns=0)
    gf.resolve(FillRequest("A", 0, 3 * M, (0,)), answer(0), now_ns=0)
    [req] = gf.requests(0, 3 * M)
    assert (req.start_ns, req.end_ns) == (1 * M, 3 * M)
    gf.resolve(req, answer(0, 3, 4), now_ns=0)  # 0 before the range, 3 and 4 at or after its end
    fills = gf.symbols["A"]
    assert fills.filled == {0: row_values(0)} and fills.no_trades == set()
    assert fills.pending == {1 * M: [1, RETRY], 2 * M: [1, RETRY]}


def test_resolve_skips_starts_no_longer_pending():
    gf = filler()
    gf.scan("A", starts(1, 2), starts(), now_ns=0)
    [req] = gf.requests(0, 3 * M)
    gf.forget_present("A", starts(1))  # the stream delivered it late
    gf.resolve(req, answer(2), now_ns=0)
    fills = gf.symbols["A"]
    assert fills.filled == {2 * M: row_values(2)}
    assert fills.no_trades == set() and fills.missing == set()


def test_forget_present_drops_pending_bars_that_turned_up():
    gf = filler()
    gf.scan("A", starts(1, 2, 3), starts(), now_ns=0)
    gf.forget_present("A", [np.int64(1 * M), 3 * M, 9 * M])
    assert set(gf.symbols["A"].pending) == {2 * M}


def test_next_due_is_the_earliest_pending_retry_time_across_symbols():
    gf = filler(symbols=("A", "B"))
    assert gf.next_due_ns() is None
    gf.scan("A", starts(1), starts(), now_ns=50)
    gf.scan("B", starts(1), starts(), now_ns=70)
    assert gf.next_due_ns() == 50
    [ra, _] = gf.requests(70, 2 * M)
    gf.resolve(ra, answer(), now_ns=70)
    assert gf.next_due_ns() == 70
    gf.give_up()
    assert gf.next_due_ns() is None


def test_give_up_moves_every_pending_bar_to_missing():
    gf = filler(symbols=("A", "B"))
    gf.scan("A", starts(0, 1, 2), starts(1), now_ns=0)
    gf.scan("B", starts(4), starts(), now_ns=0)
    [ra, _] = gf.requests(0, 5 * M)
    gf.resolve(ra, answer(2), now_ns=0)
    gf.give_up()
    a, b = gf.symbols["A"], gf.symbols["B"]
    assert (a.filled.keys(), a.no_trades, a.missing, a.pending) == ({2 * M}, {0}, set(), {})
    assert (b.missing, b.pending) == ({4 * M}, {})


@pytest.mark.parametrize(("max_retries", "retry"), [(0, RETRY), (-1, RETRY), (1, 0), (1, -5)])
def test_constructor_rejects_bad_parameters(max_retries, retry):
    with pytest.raises(ValueError):
        GapFiller(["A"], max_retries, retry)


# --- property: every expected-absent bar ends filled, no trades, or missing ---------------------

N = 8


def _subsets(likely: bool) -> st.SearchStrategy[set[int]]:
    flags = st.sampled_from([True, True, False] if likely else [False, False, True])
    return st.lists(flags, min_size=N, max_size=N).map(lambda f: {k for k in range(N) if f[k]})


class Model:
    """The documented rules, one (symbol, start) at a time."""

    def __init__(self, max_retries: int) -> None:
        self.max_retries = max_retries
        self.pending: dict[tuple[str, int], list[int]] = {}  # key -> [attempts, next_try]
        self.filled: dict[tuple[str, int], tuple[float, ...]] = {}
        self.no_trades: set[tuple[str, int]] = set()
        self.missing: set[tuple[str, int]] = set()

    def scan(self, symbol: str, absent: set[int], now: int) -> None:
        for start in absent:
            key = (symbol, start)
            if not any(key in m for m in (self.pending, self.filled, self.no_trades, self.missing)):
                self.pending[key] = [0, now]

    def due(self, symbol: str, now: int) -> list[int]:
        return sorted(t0 for (sym, t0), (_, t) in self.pending.items()
                      if sym == symbol and t <= now)

    def resolve(self, req: FillRequest, reply: BarArrays | None, now: int) -> None:
        got = {} if reply is None else {
            int(t): i for i, t in enumerate(reply.start.tolist()) if req.start_ns <= t < req.end_ns}
        for start in req.starts:
            key = (req.symbol, start)
            if start in got:
                assert reply is not None
                self.filled[key] = tuple(float(col[got[start]]) for col in reply[1:])
                del self.pending[key]
            elif got and max(got) > start:
                self.no_trades.add(key)
                del self.pending[key]
            else:
                self.pending[key][0] += 1
                if self.pending[key][0] >= self.max_retries:
                    self.missing.add(key)
                    del self.pending[key]
                else:
                    self.pending[key][1] = now + RETRY

    def give_up(self) -> None:
        self.missing |= set(self.pending)
        self.pending.clear()


def _scan_both(gf: GapFiller, model: Model, symbol: str, exp: set[int], have: set[int], now: int,
               horizon: int) -> None:
    exp = {k * M for k in exp if k * M < horizon}
    have = {k * M for k in have if k * M < horizon}
    gf.scan(symbol, np.array(sorted(exp), np.int64), np.array(sorted(have), np.int64), now)
    model.scan(symbol, exp - have, now)


@settings(max_examples=100)
@given(
    data=st.data(),
    symbols=st.integers(1, 2),
    max_retries=st.integers(1, 3),
    expected=st.lists(_subsets(True), min_size=2, max_size=2),
    present=st.lists(_subsets(False), min_size=2, max_size=2),
)
def test_every_expected_absent_bar_ends_filled_no_trades_or_missing(
        data, symbols, max_retries, expected, present):
    names = ["A", "B"][:symbols]
    gf, model = filler(names, max_retries=max_retries), Model(max_retries)
    now, horizon, serial = 0, 0, 0
    for _ in range(data.draw(st.integers(1, 8), label="rounds")):
        now += data.draw(st.sampled_from([0, RETRY // 2, RETRY, 3 * RETRY]), label="dt")
        horizon = min(N * M, horizon + data.draw(st.sampled_from([1, 2, 4, 0]), label="grow") * M)
        for i, symbol in enumerate(names):
            _scan_both(gf, model, symbol, expected[i], present[i], now, horizon)
        reqs = gf.requests(now, horizon)
        due = {symbol: model.due(symbol, now) for symbol in names}
        assert [r.symbol for r in reqs] == [s for s in names if due[s] and due[s][0] < horizon]
        for req in reqs:
            asked = due[req.symbol]
            assert req == FillRequest(req.symbol, asked[0], horizon, tuple(asked))
            reply = None
            if data.draw(st.sampled_from([True, True, True, False]), label="answered"):
                serial += 1
                has = data.draw(st.lists(st.booleans(), min_size=N, max_size=N), label="answer")
                reply = answer(*(k for k in range(N) if has[k]), tag=serial / 1000)
            gf.resolve(req, reply, now)
            model.resolve(req, reply, now)
    # The session ends: everything expected is scanned, then whatever is still pending is given up.
    for i, symbol in enumerate(names):
        _scan_both(gf, model, symbol, expected[i], present[i], now, N * M)
    gf.give_up()
    model.give_up()
    for i, symbol in enumerate(names):
        fills = gf.symbols[symbol]
        outcomes = [set(fills.filled), fills.no_trades, fills.missing]
        assert fills.pending == {}
        assert sum(len(o) for o in outcomes) == len(set().union(*outcomes))  # disjoint
        assert set().union(*outcomes) == {k * M for k in expected[i] - present[i]}
        assert fills.filled == {t: v for (sym, t), v in model.filled.items() if sym == symbol}
        assert fills.no_trades == {t for sym, t in model.no_trades if sym == symbol}
        assert fills.missing == {t for sym, t in model.missing if sym == symbol}
