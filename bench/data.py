"""Time migbot's data work: fingerprinting a big table, and synthetic rows for a wide schema.

    .venv/bin/python bench/data.py                 # 100,000 rows; 50 tables; 5 runs each
    .venv/bin/python bench/data.py --rows 1000000 --tables 100 --repeats 3

Runs on a throwaway PostgreSQL started by migbot's own code (in /dev/shm when there
is room, as in `migbot verify`). Prints Markdown tables of medians (min-max).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from migbot.provision.databases import Databases
from migbot.provision.server import launch_server
from migbot.provision.synthetic import fill_empty_tables
from migbot.provision.tempdirs import claim_temp_dir, remove_temp_dir
from migbot.snapshot.fingerprint import diff, fingerprints, row_hashes, user_tables


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} s ({min(values):.3f}–{max(values):.3f})"


def bench_fingerprint(databases: Databases, rows: int, repeats: int) -> list[tuple[str, str]]:
    name = databases.create("fingerprint")
    with databases.connect(name) as conn:
        conn.execute("""CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL, total numeric(12,2),
                        status text NOT NULL, created_at timestamptz NOT NULL, notes jsonb)""")
        conn.execute("""INSERT INTO orders SELECT g, 'customer-' || (g %% 5000), g * 1.25, 'paid',
                        timestamp '2024-01-01' + g * interval '1 minute', jsonb_build_object('n', g)
                        FROM generate_series(1, %s) g""", (rows,))
        conn.execute("VACUUM ANALYZE orders")
        tables = user_tables(conn)
        fp = [timed(lambda: fingerprints(conn, tables)) for _ in range(repeats)]
        before = row_hashes(conn, tables[0])
        conn.execute("UPDATE orders SET status = 'refunded' WHERE id % 1000 = 0")
        found = []
        compare = [timed(lambda: found.append(diff(tables[0], before, row_hashes(conn, tables[0]))))
                   for _ in range(repeats)]
        assert found[-1].changed == rows // 1000
    databases.drop(name)
    return [(f"fingerprint of a {rows:,}-row table (count + ordered md5, in PostgreSQL)", summary(fp)),
            (f"which rows changed, when its fingerprint did (keys and hashes of {rows:,} rows, "
             f"{rows // 1000:,} changed)", summary(compare))]


def bench_synthetic(databases: Databases, tables: int, per_table: int, repeats: int) -> list[tuple[str, str]]:
    runs = []
    for attempt in range(repeats):
        name = databases.create(f"synthetic{attempt}")
        with databases.connect(name) as conn:
            conn.execute("CREATE TYPE state AS ENUM ('new', 'active', 'closed')")
            for i in range(tables):
                parent = f", parent_id int NOT NULL REFERENCES t{i - 1}" if i else ""
                conn.execute(f"""CREATE TABLE t{i} (id serial PRIMARY KEY, name varchar(80) NOT NULL UNIQUE,
                    amount numeric(10,2) CHECK (amount >= 0), kind text NOT NULL CHECK (kind IN ('a', 'b', 'c')),
                    state state NOT NULL, uid uuid NOT NULL UNIQUE, created timestamptz NOT NULL DEFAULT now(),
                    payload jsonb{parent})""")
            runs.append(timed(lambda: fill_empty_tables(conn, rows=per_table)))
        databases.drop(name)
    return [(f"synthetic rows for a {tables}-table schema ({per_table} rows each, foreign keys, checks, enums)",
             summary(runs))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--tables", type=int, default=50)
    parser.add_argument("--per-table", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    parent = claim_temp_dir("migbot-bench-", Path(tempfile.gettempdir()))
    server = launch_server(parent)
    try:
        server.wait_ready()
        databases = Databases(server.info, timeout=600)
        results = bench_fingerprint(databases, args.rows, args.repeats)
        results += bench_synthetic(databases, args.tables, args.per_table, args.repeats)
        databases.drop_all()
    finally:
        server.stop()
        remove_temp_dir(parent)
    print(f"### migbot's data work ({args.repeats} runs each; median, min–max)\n")
    print("| what | time |\n| --- | ---: |")
    for what, value in results:
        print(f"| {what} | {value} |")


if __name__ == "__main__":
    main()
