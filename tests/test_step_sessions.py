"""The stairway's steps share one run of env.py (a session) where env.py lets each step commit
on its own, and a session sees exactly what one command per step sees (issue 11, target 1).

The same branch is verified twice: with the fixture's env.py (connect, then Alembic's own
transaction: sessions), and with an env.py that holds a transaction of its own around the
run (`engine.begin()`: no session, one command a step). Each env.py counts its runs."""

from __future__ import annotations

import os

import pytest

from conftest import Result, make_repo

BRANCH = [
    ("0003", "0002", 'op.add_column("users", sa.Column("points", sa.Integer()))', 'op.drop_column("users", "points")'),
    ("0004", "0003",
     'op.create_table("badges", sa.Column("id", sa.Integer(), primary_key=True),\n'
     '                sa.Column("user_id", postgresql.UUID(), sa.ForeignKey("users.id"), nullable=False))\n'
     'op.create_index("ix_badges_user_id", "badges", ["user_id"])',
     'op.drop_index("ix_badges_user_id", table_name="badges")\nop.drop_table("badges")'),
    # a downgrade that does nothing: alembic_version is stamped back, and the stairway goes on
    ("0005", "0004", 'op.create_index("ix_users_points", "users", ["points"])', "pass"),
    # a downgrade that fails: the step rolls back, and the stairway goes on from 0006
    ("0006", "0005", 'op.add_column("users", sa.Column("level", sa.Integer(), server_default="1"))',
     'op.execute("SELECT * FROM no_such_table")'),
    ("0007", "0006", 'op.alter_column("users", "points", type_=sa.BigInteger())',
     'op.alter_column("users", "points", type_=sa.Integer())'),
    # the downgrade leaves the enum type behind, so upgrading again fails: in a session too
    ("0008", "0007", 'op.create_table("user_flags", sa.Column("id", sa.Integer(), primary_key=True),\n'
                     '                sa.Column("status", sa.Enum("on", "off", name="flag_status")))',
     'op.drop_table("user_flags")'),
]
OWN_TRANSACTION = ("    with connectable.connect() as connection:",
                   "    with connectable.begin() as connection:")


def _verify(root, name: str, own_transaction: bool) -> tuple[Result, int]:
    runs = root / f"{name}-env-runs"
    runs.mkdir(mode=0o777)
    os.chmod(runs, 0o777)  # the worker may run as another OS user
    repo = make_repo(root / name)
    repo.branch("feature")
    env_py = repo.read("alembic/env.py")
    if own_transaction:
        env_py = env_py.replace(*OWN_TRANSACTION)
    counter = f'import os as _os\n_os.close(_os.open({str(runs / "run-")!r} + _os.urandom(8).hex(), ' \
              '_os.O_CREAT | _os.O_WRONLY, 0o666))\n'
    repo.write("alembic/env.py", counter + env_py)
    for rev, down, upgrade, downgrade in BRANCH:
        repo.revision(rev, down, upgrade, downgrade)
    repo.commit("feature: six revisions")
    result = repo.verify()
    return result, len(list(runs.iterdir()))


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    root = tmp_path_factory.mktemp("sessions")
    os.chmod(root, 0o755)
    return _verify(root, "session", False), _verify(root, "commands", True)


def _evidence(result: Result) -> dict:
    """What the stairway saw, without times."""
    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k not in ("seconds", "duration")}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    project = result.report["projects"][0]
    return {"checks": {c["id"]: (c["status"], c["summary"], clean(c["findings"])) for c in project["checks"]},
            "stairway": clean(project["stairway"])}


def test_the_stairway_runs_env_py_once_for_many_steps_where_each_step_can_commit(both):
    (session, session_runs), (commands, command_runs) = both
    steps = 3 * len(BRANCH)
    # A command a step: env.py runs at least once per step; a session: once for them all,
    # plus the run's other commands (load, round trip, drift, data), the same in both.
    assert command_runs >= session_runs + steps - 4
    assert session_runs < steps


def test_a_session_sees_what_one_command_per_step_sees(both):
    (session, _), (commands, _) = both
    assert session.report is not None and commands.report is not None
    assert _evidence(session) == _evidence(commands)


def test_in_a_session_a_failed_downgrade_and_one_that_did_nothing_are_still_named_and_the_rest_checked(both):
    (session, _), _ = both
    assert session.status("downgrade") == "fail"
    assert "0006" in session.check("downgrade")["summary"]
    assert session.check("reversible-downgrades")["summary"].startswith("0005: downgrade() does nothing")
    [trip] = [t for t in session.report["projects"][0]["stairway"] if t["revision"] == "0007"]
    assert trip["statements"] and "TYPE BIGINT" in trip["statements"][0]["sql"]
    assert {"table": "public.users", "mode": "ACCESS EXCLUSIVE"} in trip["statements"][0]["locks"]
    assert session.check("reupgrade")["summary"].startswith("0008")
