"""Time `migbot verify` against the manual three-command check of the same change.

    .venv/bin/python bench/run.py                       # N = 10 and 200, 5 runs each
    .venv/bin/python bench/run.py --revisions 10 50 --repeats 3

For each N, bench/make_project.py generates a service with N revisions on main
and a `feature` branch that adds one revision (checked out). Then, R times each,
alternating which goes first:

a) migbot: `migbot verify --repo P --base main --quiet --format json --output F`,
   timed from process start to exit. It starts its own throwaway PostgreSQL,
   builds the base state, walks the new revision up/down/up with schema
   snapshots, does the whole round trip and checks model drift. Its report's own
   step timings are kept for the breakdown.
b) manual: what a developer types on the feature branch, against a fresh database
   on an existing server (default 127.0.0.1:5432; created before the clock
   starts, dropped after; no other database is touched):
       alembic upgrade head && alembic downgrade -1 && alembic upgrade head
   three CLI invocations with DATABASE_URL pointing at that database, cwd = P.
   Only the three commands are timed.

One untimed warm-up run of each comes first (--warmup): it fills migbot's cached
PostgreSQL cluster and the project's __pycache__, as on a developer's machine.
Before each run the bench waits for the machine to be idle (--idle-cpus), and it
records how much CPU the rest of the machine used during each run, so that runs
disturbed by something else show up in the JSON.

Prints Markdown tables (medians, min/max, ratio, and where migbot's time goes)
and writes everything as JSON to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from make_project import make_project  # noqa: E402

try:
    import psycopg
except ImportError:  # pragma: no cover - run it with migbot's virtualenv
    sys.exit("bench/run.py needs psycopg: run it with migbot's virtualenv, e.g. .venv/bin/python bench/run.py")


class BenchError(Exception):
    pass


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- noise control: the machine should be otherwise idle while timing --------------------------------------------

def cpu_busy_seconds() -> float:
    """CPU time the whole machine has spent busy since boot (all CPUs), from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return float("nan")
    user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wait_for_idle(max_busy: float, limit: float) -> float:
    """Wait (up to `limit` s) until other processes use less than `max_busy` CPUs over a second; returns the wait."""
    started = time.monotonic()
    warned = False
    while True:
        before = cpu_busy_seconds()
        time.sleep(1.0)
        busy = cpu_busy_seconds() - before
        if not busy >= max_busy or time.monotonic() - started > limit:  # `not >=`: nan passes
            if busy >= max_busy:
                log(f"machine still busy ({busy:.2f} CPUs) after {limit:.0f} s; timing anyway")
            return time.monotonic() - started
        if not warned:
            log(f"machine busy ({busy:.2f} CPUs in use by other processes); waiting for it to settle")
            warned = True


class Meter:
    """CPU the machine spent during a run outside the bench's own child processes (a noise indicator)."""

    def __enter__(self):
        self.busy, self.children, self.load = cpu_busy_seconds(), children_cpu_seconds(), os.getloadavg()[0]
        return self

    def __exit__(self, *exc):
        self.other = (cpu_busy_seconds() - self.busy) - (children_cpu_seconds() - self.children)
        self.own = children_cpu_seconds() - self.children


# --- the two things being timed -----------------------------------------------------------------------------------

def run_migbot(migbot: str, project: Path, env: dict) -> dict:
    handle, name = tempfile.mkstemp(prefix="bench-report-", suffix=".json")
    os.close(handle)
    report_path = Path(name)
    report_path.unlink()  # migbot writes it
    argv = [migbot, "verify", "--repo", str(project), "--base", "main", "--quiet", "--format", "json",
            "--output", str(report_path)]
    try:
        with Meter() as meter:
            started = time.perf_counter()
            proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=project)
            wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise BenchError(f"migbot verify exited {proc.returncode} (the generated project is wrong?)\n"
                             f"command: {' '.join(argv)}\nstderr:\n{proc.stderr}\nstdout:\n{proc.stdout[-4000:]}")
        report = json.loads(report_path.read_text())
    finally:
        report_path.unlink(missing_ok=True)
    project_report = report["projects"][0]
    return {
        "wall": wall,
        "seconds": report["seconds"],
        "timings": {t["step"]: t["seconds"] for t in project_report["timings"]},
        "result": report["result"],
        "database": report["database"],
        "new_revisions": [r["revision"] for r in project_report.get("stairway", [])],
        "cpu_own": meter.own, "cpu_other": meter.other, "load_before": meter.load,
        "notes": report["notes"],
    }


MANUAL_COMMANDS = (("upgrade head", ["upgrade", "head"]), ("downgrade -1", ["downgrade", "-1"]),
                   ("upgrade head again", ["upgrade", "head"]))


def run_manual(alembic: str, project: Path, server: Server, env: dict, label: str) -> dict:
    dbname = server.create(label)
    try:
        run_env = {**env, "DATABASE_URL": server.sqlalchemy_url(dbname)}
        steps = {}
        with Meter() as meter:
            started = time.perf_counter()
            for name, args in MANUAL_COMMANDS:
                step_started = time.perf_counter()
                proc = subprocess.run([alembic, *args], cwd=project, env=run_env, capture_output=True, text=True)
                steps[name] = time.perf_counter() - step_started
                if proc.returncode != 0:
                    raise BenchError(f"alembic {' '.join(args)} exited {proc.returncode}\nstderr:\n{proc.stderr}")
            total = time.perf_counter() - started
    finally:
        server.drop(dbname)
    # cpu_other includes the 127.0.0.1:5432 server's backend doing the migrations (not a child of the bench).
    return {"wall": total, "steps": steps, "cpu_own": meter.own, "cpu_other": meter.other, "load_before": meter.load}


class Server:
    """The existing PostgreSQL server for the manual runs; creates and drops only its own databases."""

    def __init__(self, url: str):
        self.url = url
        self.created: set[str] = set()
        self.counter = 0

    def _admin(self):
        return psycopg.connect(self.url, autocommit=True, connect_timeout=10)

    def version(self) -> str:
        with self._admin() as conn:
            return conn.execute("SELECT version()").fetchone()[0]

    def create(self, label: str) -> str:
        self.counter += 1
        name = f"migbot_bench_{label}_{os.getpid()}_{self.counter}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.add(name)
        return name

    def drop(self, name: str) -> None:
        if name not in self.created:
            raise BenchError(f"refusing to drop {name}: the bench did not create it")
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        self.created.discard(name)

    def drop_all(self) -> None:
        for name in sorted(self.created):
            try:
                self.drop(name)
            except Exception as exc:  # noqa: BLE001 - report and go on
                log(f"could not drop {name}: {exc}")

    def sqlalchemy_url(self, dbname: str) -> str:
        parts = urlsplit(self.url)
        return urlunsplit(("postgresql+psycopg", parts.netloc, f"/{dbname}", parts.query, ""))


# --- statistics and output ----------------------------------------------------------------------------------------

def stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": [round(v, 3) for v in values]}


def fmt(s: dict) -> str:
    return f"{s['median']:.2f} s ({s['min']:.2f}–{s['max']:.2f})"


def summarize(n: int, facts: dict, migbot_runs: list[dict], manual_runs: list[dict]) -> dict:
    steps = list(dict.fromkeys(step for run in migbot_runs for step in run["timings"]))
    breakdown = {step: stats([run["timings"].get(step, 0.0) for run in migbot_runs]) for step in steps}
    # "base: ..." steps run inside the "head: load env.py and models" window (the head imports the app meanwhile),
    # so only the others add up along the critical path.
    sequential = [s for s in steps if not s.startswith("base:")]
    outside_steps = [run["seconds"] - sum(run["timings"].get(s, 0.0) for s in sequential) for run in migbot_runs]
    outside_verify = [run["wall"] - run["seconds"] for run in migbot_runs]
    migbot_wall = stats([r["wall"] for r in migbot_runs])
    manual_wall = stats([r["wall"] for r in manual_runs])
    return {
        "revisions_on_main": n,
        "project": facts,
        "migbot": {
            "wall": migbot_wall,
            "report_seconds": stats([r["seconds"] for r in migbot_runs]),
            "outside_verify": stats(outside_verify),
            "not_in_step_timings": stats(outside_steps),
            "steps": breakdown,
            "database": migbot_runs[0]["database"],
            "cpu_own": stats([r["cpu_own"] for r in migbot_runs]),
            "cpu_other": stats([r["cpu_other"] for r in migbot_runs]),
            "load_before": [round(r["load_before"], 2) for r in migbot_runs],
        },
        "manual": {
            "wall": manual_wall,
            "cpu_own": stats([r["cpu_own"] for r in manual_runs]),
            "cpu_other": stats([r["cpu_other"] for r in manual_runs]),
            "load_before": [round(r["load_before"], 2) for r in manual_runs],
            "steps": {name: stats([r["steps"][name] for r in manual_runs]) for name, _ in MANUAL_COMMANDS},
        },
        "ratio_median": migbot_wall["median"] / manual_wall["median"],
        "ratio_min": migbot_wall["min"] / manual_wall["min"],
    }


def markdown(results: list[dict], repeats: int, warmup: int) -> str:
    out = [f"### migbot verify vs the manual sequence ({repeats} timed runs each, after {warmup} warm-up; "
           "median, min–max)", "",
           "| revisions on main | tables | migbot verify | manual (3 alembic commands) | migbot / manual (median) "
           "| migbot / manual (best) |",
           "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        out.append(f"| {r['revisions_on_main']} | {r['project']['tables_at_head']} | {fmt(r['migbot']['wall'])} "
                   f"| {fmt(r['manual']['wall'])} | {r['ratio_median']:.2f}× | {r['ratio_min']:.2f}× |")
    out += ["", "### Where migbot's time goes (median seconds)", ""]
    header = "| step | " + " | ".join(f"N={r['revisions_on_main']}" for r in results) + " |"
    out += [header, "| --- |" + " ---: |" * len(results)]

    def row(label: str, get) -> None:
        out.append(f"| {label} | " + " | ".join(f"{get(r):.2f}" for r in results) + " |")

    row("**migbot process, wall**", lambda r: r["migbot"]["wall"]["median"])
    row("outside verify(): interpreter start, imports, writing the report", lambda r: r["migbot"]["outside_verify"]["median"])
    row("verify() (report `seconds`)", lambda r: r["migbot"]["report_seconds"]["median"])
    row("↳ not in step timings: git discovery, plan, static checks, PostgreSQL start, cleanup",
        lambda r: r["migbot"]["not_in_step_timings"]["median"])
    steps = list(dict.fromkeys(s for r in results for s in r["migbot"]["steps"]))
    for step in steps:
        if not step.startswith("base:"):
            label = f"↳ {step}"
        elif "alongside" in step:  # runs in parallel with the head's steps, not within its load
            label = f"&nbsp;&nbsp;↳ {step}"
        else:
            label = f"&nbsp;&nbsp;↳ {step} (inside the head-load window)"
        row(label, lambda r, s=step: r["migbot"]["steps"].get(s, {"median": float("nan")})["median"])
    row("**manual, wall**", lambda r: r["manual"]["wall"]["median"])
    for name, _ in MANUAL_COMMANDS:
        row(f"↳ alembic {name}" if name != "upgrade head again" else "↳ alembic upgrade head (again)",
            lambda r, s=name: r["manual"]["steps"][s]["median"])
    out += ["", "### CPU time (median seconds; user + system)", "",
            "| | " + " | ".join(f"N={r['revisions_on_main']}" for r in results) + " |",
            "| --- |" + " ---: |" * len(results)]
    row("migbot: its processes (migbot, workers, its PostgreSQL, git)", lambda r: r["migbot"]["cpu_own"]["median"])
    row("migbot: rest of the machine during the run (noise)", lambda r: r["migbot"]["cpu_other"]["median"])
    row("manual: the three alembic processes", lambda r: r["manual"]["cpu_own"]["median"])
    row("manual: rest of the machine during the run (the 5432 server's backend + noise)",
        lambda r: r["manual"]["cpu_other"]["median"])
    discarded = "; ".join(f"N={r['revisions_on_main']}: migbot {r['discarded_disturbed_runs']['migbot']}, "
                          f"manual {r['discarded_disturbed_runs']['manual']}" for r in results)
    out += ["", f"Runs discarded because something else was using the machine (and run again): {discarded}."]
    return "\n".join(out) + "\n"


def machine_facts(server: Server) -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    return {"nproc": os.cpu_count(), "cpu": cpu, "platform": platform.platform(),
            "python": platform.python_version(), "manual_server": server.version(), "migbot_commit": commit}


# --- main ---------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    venv_bin = REPO / ".venv" / "bin"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--revisions", "-n", type=int, nargs="+", default=[10, 200], metavar="N",
                        help="revisions on main, one project each (default: 10 200)")
    parser.add_argument("--repeats", "-r", type=int, default=5, help="timed runs of each (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs of each first (default 1)")
    parser.add_argument("--migbot", default=str(venv_bin / "migbot"), help="migbot executable")
    parser.add_argument("--alembic", default=str(venv_bin / "alembic"), help="alembic executable")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="existing server for the manual runs (a database to connect to for CREATE/DROP DATABASE)")
    parser.add_argument("--workdir", type=Path, help="where the projects are generated (default: a temp dir, removed)")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "latest.json")
    parser.add_argument("--idle-cpus", type=float, default=0.3, metavar="CPUS",
                        help="before each run, wait until other processes use less than this many CPUs (default 0.3; "
                        "0 disables the wait)")
    parser.add_argument("--disturbed-cpus", type=float, default=0.5, metavar="CPUS",
                        help="a timed run during which the rest of the machine used more than this many CPUs on "
                        "average is discarded and run again (default 0.5; the manual runs' own server backend "
                        "counts here, about 0.15)")
    parser.add_argument("--retries", type=int, default=3, help="re-runs of a disturbed run (default 3)")
    parser.add_argument("--idle-wait", type=float, default=300, metavar="SECONDS",
                        help="longest wait for an idle machine before each run (default 300)")
    args = parser.parse_args(argv)

    server = Server(args.server)
    facts = machine_facts(server)
    log(f"{facts['nproc']} CPUs, {facts['cpu']}; manual server: {facts['manual_server'].split(' on ')[0]}")

    # Both sides run the same interpreter (migbot's workers use $VIRTUAL_ENV's python); migbot must start its own
    # PostgreSQL, so no database URL may leak into its environment.
    base_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MIGBOT_DATABASE_URL")}
    venv = Path(args.migbot).resolve().parent.parent
    if (venv / "bin" / "python").is_file():
        base_env["VIRTUAL_ENV"] = str(venv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mbench-"))
    results = []
    try:
        for n in args.revisions:
            project = workdir / f"service_{n}"
            log(f"N={n}: generating {project}")
            facts_n = make_project(project, n, force=True)
            branch = subprocess.run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=project, capture_output=True,
                                    text=True).stdout.strip()
            if branch != "feature":
                raise BenchError(f"{project} has {branch!r} checked out, not the feature branch")
            migbot_runs, manual_runs = [], []
            discarded = {"migbot": 0, "manual": 0}

            def measure(which: str) -> dict:
                if which == "migbot":
                    run = run_migbot(args.migbot, project, base_env)
                    if run["new_revisions"] != [facts_n["feature_revision"]]:
                        raise BenchError(f"migbot verified {run['new_revisions']}, expected only "
                                         f"{facts_n['feature_revision']}")
                    run["detail"] = f"report {run['seconds']:.2f} s"
                else:
                    run = run_manual(args.alembic, project, server, base_env, f"n{n}")
                    run["detail"] = ", ".join(f"{k} {v:.2f}" for k, v in run["steps"].items())
                return run

            for i in range(args.warmup + args.repeats):
                timed = i >= args.warmup
                tag = f"run {i - args.warmup + 1}/{args.repeats}" if timed else f"warm-up {i + 1}/{args.warmup}"
                order = ("migbot", "manual") if i % 2 == 0 else ("manual", "migbot")
                for which in order:
                    for attempt in range(1, args.retries + 2):
                        if args.idle_cpus > 0:
                            wait_for_idle(args.idle_cpus, args.idle_wait)
                        run = measure(which)
                        noise = run["cpu_other"] / run["wall"]
                        log(f"N={n} {tag}: {which} {run['wall']:.2f} s ({run['detail']}; rest of the machine "
                            f"{noise:.2f} CPUs)")
                        if not timed or noise <= args.disturbed_cpus or attempt > args.retries:
                            break
                        log(f"  disturbed (> {args.disturbed_cpus} CPUs used elsewhere): discarded, run again")
                        discarded[which] += 1
                    if timed:
                        (migbot_runs if which == "migbot" else manual_runs).append(run)
            results.append(summarize(n, facts_n, migbot_runs, manual_runs))
            results[-1]["discarded_disturbed_runs"] = discarded
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    finally:
        server.drop_all()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    table = markdown(results, args.repeats, args.warmup)
    machine = (f"Machine: {facts['nproc']} CPUs ({facts['cpu']}), Python {facts['python']}; manual runs on "
               f"{facts['manual_server'].split(' on ')[0]} at {urlsplit(args.server).hostname}:"
               f"{urlsplit(args.server).port or 5432}; migbot: {results[0]['migbot']['database']}.")
    print(table + "\n" + machine)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "repeats": args.repeats, "warmup": args.warmup, "idle_cpus": args.idle_cpus, "machine": facts,
        "commands": {"migbot": f"{args.migbot} verify --repo P --base main --quiet --format json --output F",
                     "manual": [f"{args.alembic} {' '.join(a)}" for _, a in MANUAL_COMMANDS]},
        "results": results, "markdown": table,
    }, indent=2) + "\n")
    log(f"results written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
