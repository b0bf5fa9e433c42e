"""How long ``stflash --version`` and ``stflash --help`` take to start, wall clock.

Not a test: ``python bench/startup.py`` runs each command N times as a subprocess and prints the
median (and the fastest) wall time beside the interpreter's own start-up (``python -c pass``),
then the modules ``python -X importtime`` finds slowest when ``--help`` is printed. The target is
150 ms. The console script is timed as installed next to this interpreter; the ``stflash`` found on
PATH is timed too where it is another file (a pyenv shim, say, which puts a shell script and
``pyenv exec`` in front of the same program: PATH as the shell that started this script had it). ``--json`` prints the numbers as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.150


def wall_s(command: list[str], runs: int) -> tuple[float, float]:
    """(median, fastest) wall seconds of ``command``; one untimed run first warms the caches."""
    subprocess.run(command, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def commands() -> dict[str, list[str]]:
    """The ways of starting stflash worth timing, by label."""
    out: dict[str, list[str]] = {}
    script = Path(sys.executable).with_name("stflash")
    seen = set()
    if script.exists():
        out["stflash (console script)"] = [str(script)]
        seen.add(script.resolve())
    for folder in os.environ.get("PATH", "").split(os.pathsep):  # a shim in front of it, say
        found = shutil.which("stflash", path=folder) if folder else None
        if found and Path(found).resolve() not in seen:
            seen.add(Path(found).resolve())
            out[f"{found}"] = [found]
    out["python -m stflash"] = [sys.executable, "-m", "stflash"]
    return out


def import_offenders(top: int) -> list[tuple[str, float, float]]:
    """(module, self ms, cumulative ms) of the slowest imports while printing --help."""
    code = "from stflash.cli.main import main; main(['--help'])"
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True)
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, total, name = (part.strip() for part in line[len("import time:"):].split("|"))
        rows.append((name, int(own) / 1000, int(total) / 1000))
    return sorted(rows, key=lambda r: r[2], reverse=True)[:top]


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=int, default=21, help="runs per command (default 21)")
    ap.add_argument("--top", type=int, default=12, help="import-time offenders shown (default 12)")
    ap.add_argument("--json", action="store_true", help="print one JSON object, nothing else")
    args = ap.parse_args()
    floor = wall_s([sys.executable, "-c", "pass"], args.runs)
    results = []
    for label, command in commands().items():
        for verb in ("--version", "--help"):
            median, best = wall_s([*command, verb], args.runs)
            results.append({"command": f"{label} {verb}", "median_s": median, "fastest_s": best,
                            "met": median <= TARGET_S})
    offenders = import_offenders(args.top)
    if args.json:
        print(json.dumps({"target_s": TARGET_S, "python_s": floor[0], "runs": results,
                          "imports": [{"module": m, "self_ms": s, "cumulative_ms": c} for m, s, c in offenders]},
                         indent=1))
        return 0
    print(f"wall time, median of {args.runs} runs (fastest); target {TARGET_S * 1000:.0f} ms")
    print(f"  {'python -c pass (the interpreter alone)':<62} {floor[0] * 1000:6.1f} ms ({floor[1] * 1000:5.1f})")
    for r in results:
        verdict = "met" if r["met"] else "MISSED"
        print(f"  {r['command']:<62} {r['median_s'] * 1000:6.1f} ms ({r['fastest_s'] * 1000:5.1f})  {verdict}")
    print("slowest imports for --help (cumulative ms, self ms):")
    for name, own, total in offenders:
        print(f"  {name:<48} {total:7.1f} {own:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
