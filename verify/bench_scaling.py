"""Throughput and memory as the workload grows (issue 7): symbols x years, each in a fresh process.

For each case NxY (N symbols S000.., or BENCH alone when N is 1; Y years of 1m bars ending 2023)
this runs ``verify/bench_floor.py --symbols N --years Y --no-process`` in its own subprocess, so
the peak RSS is that case's alone (the store is written beforehand by another subprocess, and
bench_floor.py reads ru_maxrss after the product runs, before its floor loads any data). It
prints one line per case as it finishes, then a table:

  product bars/s, floor bars/s and their ratio  (target: ratio >= 0.50),
  peak RSS in MB                                 (target: < 1 GB for 50 symbols),
  whether the product's fills equal the floor's,

and below it the 3y/1y peak RSS ratio at the same symbol count (target <= 1.05: memory must
not grow with the length of the run) and bars/s per symbol count relative to 1 symbol
(linearity: a run of N symbols should take about N times as long, so this stays near 1).

Default cases: 1x1, 10x1, 50x1, 200x1 and 10x3 (about 20 million bars in the 200-symbol case:
several minutes per run on 2 cores). Stores are cached under --cache (default
/tmp/bench_stores), one folder per case, since generating 200 symbols takes a while. Run from the
repo root:

    .venv/bin/python verify/bench_scaling.py [--cases 1x1,10x1,10x3] [--repeat 1] [--cache DIR]

Nothing here asserts on time; exit status 1 only when a case could not be measured at all.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FLOOR = Path(__file__).resolve().parent / "bench_floor.py"
DEFAULT_CASES = "1x1,10x1,50x1,200x1,10x3"
RATIO_TARGET = 0.50
RSS_TARGET_MB = 1024
RSS_TARGET_SYMBOLS = 50
RSS_YEARS_TARGET = 1.05


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def parse_cases(text: str) -> list[tuple[int, int]]:
    cases: list[tuple[int, int]] = []
    for item in text.split(","):
        symbols, _, years = item.strip().lower().partition("x")
        if not (symbols.isdigit() and years.isdigit() and int(symbols) > 0 and int(years) > 0):
            raise SystemExit(f"expected cases like 1x1,10x3 (symbols x years), received {item!r}")
        cases.append((int(symbols), int(years)))
    return cases


def _floor_cmd(symbols: int, years: int, store: Path) -> list[str]:
    return [sys.executable, str(FLOOR), "--symbols", str(symbols), "--years", str(years),
            "--store", str(store)]


def run_case(symbols: int, years: int, cache: Path, repeat: int, tmp: Path) -> dict[str, Any]:
    """Prepare the case's store, then measure it in a fresh process; return its figures."""
    store = cache / f"s{symbols}_y{years}"
    t0 = time.perf_counter()
    prep = subprocess.run([*_floor_cmd(symbols, years, store), "--prepare-only"],
                          capture_output=True, text=True, check=False)
    if prep.returncode != 0:
        return {"error": f"preparing {store} failed: {prep.stderr.strip()[-800:]}"}
    if prep.stdout.strip():
        say(f"  {prep.stdout.strip()} ({time.perf_counter() - t0:.0f} s)")
    out = tmp / f"case_{symbols}x{years}.json"
    cmd = [*_floor_cmd(symbols, years, store), "--repeat", str(repeat), "--no-process",
           "--json", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:  # pass the case's own lines through, indented
        if line.strip():
            say(f"  | {line.rstrip()}")
    stderr = proc.stderr.read() if proc.stderr is not None else ""
    if proc.wait() != 0 or not out.is_file():
        return {"error": f"exit {proc.returncode}: {stderr.strip()[-800:]}"}
    return json.loads(out.read_text())


def _num(value: float | None, spec: str) -> str:
    return "n/a" if value is None else f"{value:{spec}}"


def print_table(results: dict[tuple[int, int], dict[str, Any]]) -> None:
    head = ("case", "bars", "product b/s", "floor b/s", "ratio", "peak RSS MB", "outputs s", "fills", "targets")
    rows: list[tuple[str, ...]] = [head]
    for (symbols, years), r in results.items():
        if "error" in r:
            rows.append((f"{symbols}x{years}", "failed", "", "", "", "", "", "", r["error"][:60]))
            continue
        ratio, rss = r.get("ratio"), r.get("peak_rss_mb")
        notes = [f"ratio >= {RATIO_TARGET}" + _met(ratio, ratio is not None
                                                    and ratio >= RATIO_TARGET)]
        if symbols == RSS_TARGET_SYMBOLS:
            notes.append(f"RSS < {RSS_TARGET_MB} MB"
                         + _met(rss, rss is not None and rss < RSS_TARGET_MB))
        fills = {True: "equal", False: "DIFFER", None: "n/a"}[r.get("fills_equal")]
        rows.append((f"{symbols}x{years}", f"{r.get('product_bars') or r['floor_bars']:,}",
                     _num(r.get("product_bars_per_s"), ",.0f"), _num(r["floor_bars_per_s"], ",.0f"),
                     _num(ratio, ".2f"), _num(rss, ".0f"), _num(r.get("product_outputs_s"), ".2f"), fills,
                     "; ".join(notes)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    say()
    for row in rows:
        cells = [c.ljust(w) if i in (0, 7, 8) else c.rjust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        say("  " + "  ".join(cells).rstrip())


def _met(value: float | None, met: bool) -> str:
    return "" if value is None else (" met" if met else " NOT met")


def print_growth(results: dict[tuple[int, int], dict[str, Any]]) -> None:
    ok = {k: r for k, r in results.items() if "error" not in r}
    say()
    pairs = sorted({s for s, y in ok if y > 1 and (s, 1) in ok})
    for symbols in pairs:
        base = ok[(symbols, 1)].get("peak_rss_mb")
        for years in sorted(y for s, y in ok if s == symbols and y > 1):
            rss = ok[(symbols, years)].get("peak_rss_mb")
            if base and rss:
                ratio = rss / base
                say(f"{years}y/1y peak RSS ratio at {symbols} symbols: {ratio:.3f} "
                    f"({rss:.0f} / {base:.0f} MB; target <= {RSS_YEARS_TARGET}"
                    f"{_met(ratio, ratio <= RSS_YEARS_TARGET)})")
    if not pairs:
        say("3y/1y peak RSS ratio: n/a (needs a 1-year and a longer case at one symbol count)")
    one_year = sorted((s, r) for (s, y), r in ok.items() if y == 1)
    if not one_year:
        return
    say("bars/s per symbol count, 1 year (relative to the fewest symbols; linear scaling keeps "
        "it near 1.00):")
    first = one_year[0][1]
    for symbols, r in one_year:
        rel = []
        for key, name in (("product_bars_per_s", "product"), ("floor_bars_per_s", "floor")):
            rate, ref = r.get(key), first.get(key)
            if rate and ref:
                rel.append(f"{name} {rate:>11,.0f} bars/s = {rate / ref:4.2f}x")
        say(f"  {symbols:>4} symbols: " + ("; ".join(rel) or "n/a"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=DEFAULT_CASES,
                        help=f"symbols x years, comma separated (default {DEFAULT_CASES})")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/bench_stores"),
                        help="where sample stores are kept between runs")
    parser.add_argument("--repeat", type=int, default=1, help="product runs per case, best kept")
    args = parser.parse_args()
    cases = parse_cases(args.cases)
    args.cache.mkdir(parents=True, exist_ok=True)
    results: dict[tuple[int, int], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench_scaling_") as tmp:
        for symbols, years in cases:
            say(f"case {symbols}x{years}: {symbols} symbol(s) x {years} year(s)")
            t0 = time.perf_counter()
            results[(symbols, years)] = r = run_case(symbols, years, args.cache, args.repeat,
                                                     Path(tmp))
            if "error" in r:
                say(f"  case {symbols}x{years} failed: {r['error']}")
            else:
                say(f"  case {symbols}x{years} done in {time.perf_counter() - t0:.0f} s")
    print_table(results)
    print_growth(results)
    return 1 if all("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
