"""Time `migbot verify` on a branch whose revisions are ALL new against pytest-alembic's
default suite on the same history (issue 11, target 1).

    .venv/bin/python bench/stairway.py                 # 100 new revisions, 5 runs each
    .venv/bin/python bench/stairway.py --new 30 --repeats 3

bench/make_project.py generates the service with no revision on main and N on `feature`
(a project adopting migbot, or a nightly full check). Then, R times each, alternating:

a) migbot: `migbot verify --repo P --base main --quiet --format json --output F`, from
   process start to exit: its own PostgreSQL, every revision up, down and up again with
   the schema compared at each step, the round trip, model drift.
b) pytest-alembic: `pytest --test-alembic` in a copy of the project with a conftest.py whose
   `alembic_engine` is a fresh database (dropped and created again before each test) on a
   PostgreSQL like migbot's own: a throwaway server with its data directory in /dev/shm,
   started by the bench with migbot's code (or, with --server URL, an existing server). Its four default tests: single head, upgrade step by
   step, models match the DDL, and up/down consistency (every step down and up again, with
   no schema comparison). The bench installs pytest-alembic in a virtualenv of its own
   (bench/.cache/pytest-alembic), with the project's dependencies.

Prints a Markdown table (medians, min–max, ratio) and migbot's step timings.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from make_project import make_project  # noqa: E402
from run import BenchError, Meter, Server, log, run_migbot, wait_for_idle  # noqa: E402

PYTEST_ALEMBIC_VENV = HERE / ".cache" / "pytest-alembic"
# pytest-alembic 0.13 fails to collect on pytest 8.4 and later ('TestCollector' has no '_nodeid').
PYTEST_ALEMBIC_PACKAGES = ["pytest<8.4", "pytest-alembic", "sqlalchemy>=2", "alembic", "psycopg[binary]",
                           "pydantic-settings"]

CONFTEST = '''\
import os

import psycopg
import pytest
import sqlalchemy

ADMIN = os.environ["BENCH_ADMIN_URL"]
NAME = os.environ["BENCH_DBNAME"]


@pytest.fixture
def alembic_engine():
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{NAME}"')
        conn.execute(f'CREATE DATABASE "{NAME}"')
    engine = sqlalchemy.create_engine(os.environ["DATABASE_URL"])
    yield engine
    engine.dispose()
'''


def pytest_alembic_python() -> Path:
    python = PYTEST_ALEMBIC_VENV / "bin" / "python"
    if not python.exists():
        log(f"installing pytest-alembic into {PYTEST_ALEMBIC_VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(PYTEST_ALEMBIC_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PYTEST_ALEMBIC_PACKAGES], check=True)
    return python


def version_of(python: Path, package: str) -> str:
    return subprocess.run([str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
                          capture_output=True, text=True, check=True).stdout.strip()


def run_pytest_alembic(python: Path, project: Path, server: Server, env: dict) -> dict:
    dbname = f"migbot_bench_pa_{os.getpid()}"
    server.created.add(dbname)  # the conftest creates it; the bench drops it
    run_env = {**env, "BENCH_ADMIN_URL": server.url, "BENCH_DBNAME": dbname,
               "DATABASE_URL": server.sqlalchemy_url(dbname)}
    argv = [str(python), "-m", "pytest", "--test-alembic", "-p", "no:cacheprovider", "-q"]
    try:
        with Meter() as meter:
            started = time.perf_counter()
            proc = subprocess.run(argv, cwd=project, env=run_env, capture_output=True, text=True)
            wall = time.perf_counter() - started
    finally:
        server.drop(dbname)
    if proc.returncode != 0:
        raise BenchError(f"pytest-alembic exited {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return {"wall": wall, "summary": proc.stdout.strip().splitlines()[-1], "cpu_own": meter.own,
            "cpu_other": meter.other}


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s ({min(values):.2f}–{max(values):.2f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--new", type=int, default=100, help="revisions on the branch, all new (default 100)")
    parser.add_argument("--repeats", "-r", type=int, default=5)
    parser.add_argument("--server", help="PostgreSQL for pytest-alembic (default: a throwaway server in /dev/shm)")
    parser.add_argument("--idle-cpus", type=float, default=0.5)
    args = parser.parse_args(argv)

    migbot = str(Path(sys.executable).parent / "migbot")
    python = pytest_alembic_python()
    throwaway = None
    if args.server:
        server = Server(args.server)
    else:
        from migbot.provision.server import launch_server

        throwaway = launch_server(Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir()))
        throwaway.wait_ready()
        i = throwaway.info
        server = Server(f"postgresql://{i.user}:{i.password}@{i.host}:{i.port}/{i.maintenance_db}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIGBOT_", "PYTEST_"))}
    work = Path(tempfile.mkdtemp(prefix="migbot-bench-stairway-"))
    try:
        project = work / "project"
        make_project(project, 0, new=args.new)
        copy = work / "pytest-alembic"
        shutil.copytree(project, copy, ignore=shutil.ignore_patterns(".git"))
        (copy / "conftest.py").write_text(CONFTEST)
        (copy / "pytest.ini").write_text("[pytest]\npytest_alembic_tests_path = conftest.py\n")

        runs: dict[str, list[dict]] = {"migbot": [], "pytest-alembic": []}
        log("warm-up")
        run_migbot(migbot, project, env)
        run_pytest_alembic(python, copy, server, env)
        for index in range(args.repeats):
            order = ["migbot", "pytest-alembic"] if index % 2 == 0 else ["pytest-alembic", "migbot"]
            for which in order:
                wait_for_idle(args.idle_cpus, 60)
                run = run_migbot(migbot, project, env) if which == "migbot" else \
                    run_pytest_alembic(python, copy, server, env)
                runs[which].append(run)
                log(f"{which} run {index + 1}: {run['wall']:.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if throwaway is not None:
            throwaway.stop()

    m = [r["wall"] for r in runs["migbot"]]
    p = [r["wall"] for r in runs["pytest-alembic"]]
    print(f"\n{args.new} new revisions, {args.repeats} runs each after a warm-up; pytest-alembic "
          f"{version_of(python, 'pytest-alembic')} ({runs['pytest-alembic'][-1]['summary']})\n")
    print("| new revisions | migbot verify (median, min–max) | pytest-alembic, 4 default tests | migbot / pytest-alembic |")
    print("| ---: | ---: | ---: | ---: |")
    print(f"| {args.new} | {spread(m)} | {spread(p)} | **{statistics.median(m) / statistics.median(p):.2f}×** |")
    print("\nmigbot's steps (medians, s):\n")
    steps = runs["migbot"][0]["timings"].keys()
    for step in steps:
        print(f"- {step}: {statistics.median(r['timings'][step] for r in runs['migbot']):.2f}")
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "stairway.json").write_text(json.dumps(runs, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
