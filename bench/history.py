"""Time one new revision on a long history against the same PR on a short one, cold and warm
(issue 11, target 2).

    .venv/bin/python bench/history.py                  # 10 and 1,000 revisions on main, 5 runs each
    .venv/bin/python bench/history.py -n 10 200 -r 3 --squashed 0

For each N, bench/make_project.py generates the service with N revisions on main and a feature
branch adding one. The generated schema grows with N (about 375 tables at N=1,000, 8 at N=10),
so the largest N is also measured squashed (bench/squash.py): the same schema, rows and
feature, with main's history in --squashed revisions (default 10). That row isolates the
length of the history from the size of the schema. Then, alternating, `migbot verify --repo P --base main` from process start
to exit, three ways:

- off: MIGBOT_BASE_CACHE=off, the base state built by the base's code (what every run did
  before the cache);
- cold: the cache on with no entry for this base: built, and kept for later runs;
- warm: the cache holding this base: restored, none of the base's code runs.

All three share one cache directory (bench/.cache/migbot), so the throwaway server always
starts from its cached cluster; "cold" removes the kept base states first.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_project import make_project  # noqa: E402
from run import log, run_migbot, wait_for_idle  # noqa: E402
from squash import squash_project  # noqa: E402

CACHE = HERE / ".cache" / "migbot"
WAYS = ("off", "cold", "warm")


def timed(way: str, project: Path, env: dict) -> dict:
    if way == "cold":
        shutil.rmtree(CACHE / "bases", ignore_errors=True)
    run_env = {**env, "MIGBOT_CACHE_DIR": str(CACHE), "MIGBOT_BASE_CACHE": "off" if way == "off" else "auto"}
    return run_migbot(str(Path(sys.executable).parent / "migbot"), project, run_env)


def median(runs: list[dict], key: str = "wall") -> float:
    return statistics.median(r[key] for r in runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--revisions", "-n", type=int, nargs="+", default=[10, 1000])
    parser.add_argument("--repeats", "-r", type=int, default=5)
    parser.add_argument("--squashed", type=int, default=10, metavar="K",
                        help="also the largest N squashed into K revisions (0: not)")
    parser.add_argument("--idle-cpus", type=float, default=0.5)
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGBOT_")}
    work = Path(tempfile.mkdtemp(prefix="migbot-bench-history-"))
    projects: dict[str, Path] = {}
    try:
        for n in args.revisions:
            projects[str(n)] = work / f"p{n}"
            make_project(projects[str(n)], n)
        if args.squashed:
            longest = max(args.revisions)
            label = f"{longest} squashed into {args.squashed}"
            squash_project(projects[str(longest)], work / "squashed", args.squashed)
            projects[label] = work / "squashed"
        runs: dict[str, dict[str, list[dict]]] = {n: {way: [] for way in WAYS} for n in projects}
        for n, project in projects.items():
            log(f"N={n}: warm-up")
            timed("cold", project, env)
        for index in range(args.repeats):
            for n in projects:
                # cold before warm (warm needs the entry cold keeps); off first or last, by turns
                order = ["off", "cold", "warm"] if index % 2 == 0 else ["cold", "warm", "off"]
                for way in order:
                    wait_for_idle(args.idle_cpus, 60)
                    run = timed(way, projects[n], env)
                    cached = any("came from migbot's cache" in note for note in run.get("notes", []))
                    run["restored"] = cached
                    runs[n][way].append(run)
                    log(f"N={n} {way} run {index + 1}: {run['wall']:.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{args.repeats} runs each after a warm-up, medians (min–max) of wall time:\n")
    print("| revisions on main | cache off | cold (builds and keeps) | warm (restores) |")
    print("| ---: | ---: | ---: | ---: |")
    for n in projects:
        cells = [f"{median(runs[n][w]):.2f} s ({min(r['wall'] for r in runs[n][w]):.2f}–"
                 f"{max(r['wall'] for r in runs[n][w]):.2f})" for w in WAYS]
        print(f"| {n} | " + " | ".join(cells) + " |")
    longest, pairs = str(max(args.revisions)), []
    if len(args.revisions) > 1:
        pairs.append((longest, str(min(args.revisions))))
    if args.squashed:
        pairs.append((longest, f"{longest} squashed into {args.squashed}"))
    for a, b in pairs:
        print(f"\n{a} / {b}: " + ", ".join(f"{way} **{median(runs[a][way]) / median(runs[b][way]):.2f}×**"
                                          for way in WAYS))
    for n in projects:
        print(f"\nN={n}, migbot's steps (medians, s):\n")
        print("| step | " + " | ".join(WAYS) + " |\n| --- | ---: | ---: | ---: |")
        steps = dict.fromkeys(s for w in WAYS for s in runs[n][w][0]["timings"])
        for step in steps:
            cells = [f"{statistics.median(r['timings'].get(step, 0.0) for r in runs[n][w]):.2f}"
                     if step in runs[n][w][0]["timings"] else "" for w in WAYS]
            print(f"| {step} | " + " | ".join(cells) + " |")
    for n in projects:
        restored = sum(r["restored"] for r in runs[n]["warm"])
        print(f"\nN={n}: {restored} of {len(runs[n]['warm'])} warm runs restored the base from the cache"
              + ("" if restored else " (migbot keeps a base that took 1.5 s or more to build)"))
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "history.json").write_text(json.dumps(runs, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
