"""What the pg_dump backstop costs: `migbot verify` with it and without it (MIGBOT_PG_DUMP=none),
on the projects bench/run.py generates (N revisions on main, a branch that adds one).

    .venv/bin/python bench/backstop.py                  # N = 10 and 200, 5 runs of each
    .venv/bin/python bench/backstop.py -n 10 -r 3

Runs alternate (with, without, without, with, ...) after one untimed warm-up of each, and
the bench waits for an idle machine before each run, as bench/run.py does. Prints a Markdown
table of medians and writes bench/results/backstop.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_project import make_project  # noqa: E402
from run import BenchError, run_migbot, wait_for_idle  # noqa: E402

STAIRWAY = "head: stairway"


def measure(migbot: str, project: Path, backstop: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "MIGBOT_PG_DUMP"}
    if not backstop:
        env["MIGBOT_PG_DUMP"] = "none"
    wait_for_idle(0.3, 120)
    run = run_migbot(migbot, project, env)
    run["stairway"] = next((s for step, s in run["timings"].items() if step.startswith(STAIRWAY)), None)
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--revisions", "-n", type=int, nargs="+", default=[10, 200])
    parser.add_argument("--repeats", "-r", type=int, default=5)
    parser.add_argument("--migbot", default=str(Path(sys.executable).parent / "migbot"))
    parser.add_argument("--output", type=Path, default=HERE / "results" / "backstop.json")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-backstop-") as tmp:
        for n in args.revisions:
            project = Path(tmp) / f"n{n}"
            make_project(project, n)
            for backstop in (True, False):  # warm-up: the cached cluster, __pycache__
                measure(args.migbot, project, backstop)
            runs = {True: [], False: []}
            for i in range(args.repeats):
                for backstop in ((True, False) if i % 2 == 0 else (False, True)):
                    runs[backstop].append(measure(args.migbot, project, backstop))
            row = {"revisions": n}
            for backstop, label in ((True, "with"), (False, "without")):
                row[label] = {"wall": statistics.median(r["wall"] for r in runs[backstop]),
                              "stairway": statistics.median(r["stairway"] or 0 for r in runs[backstop]),
                              "walls": [round(r["wall"], 3) for r in runs[backstop]]}
            results.append(row)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"repeats": args.repeats, "results": results}, indent=2))
    print("| revisions on main | verify with the backstop | without | ratio | stairway with | without |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in results:
        w, wo = row["with"], row["without"]
        print(f"| {row['revisions']} | {w['wall']:.2f} s | {wo['wall']:.2f} s | {w['wall'] / wo['wall']:.2f}× "
              f"| {w['stairway']:.2f} s | {wo['stairway']:.2f} s |")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        sys.exit(str(exc))
