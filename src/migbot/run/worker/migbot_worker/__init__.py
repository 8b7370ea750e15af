"""migbot's worker: runs inside the *project's* interpreter, one process per tree.

It must import nothing from migbot, pydantic or anything else the project may lack:
only the standard library, and the project's own Alembic and SQLAlchemy (whatever
versions it pins). Keep it Python 3.8+.

- main: the protocol (one JSON request per line on stdin, one JSON reply per line on
  the descriptor in MIGBOT_PROTOCOL_FD) and the set-up of the tree's environment;
- executor: the Alembic verbs (load, plan, upgrade, apply, stamp), each one env.py run;
- observe: what each migration step wrote, read from PostgreSQL inside its transaction;
- guard: every connection must reach migbot's database (SQLAlchemy pools, and the rules);
- drivers: psycopg, psycopg2 and asyncpg patched on import to follow guard's rules;
- drift: Alembic's compare_metadata, sent as structured facts (report/ words them);
- seeds: seed modules and shell commands;
- errors: exceptions turned into the project's frames, file and line.
"""
