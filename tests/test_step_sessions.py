"""The stairway's steps share one run of env.py (a session) where env.py lets each step commit
on its own, and a long branch is walked in two halves at once; both see exactly what one
command per step, in one chain, sees (issue 11, target 1).

The same branch is verified three times: with the fixture's env.py (connect, then Alembic's
own transaction: sessions), with an env.py that holds a transaction of its own around the
run (`engine.begin()`: no session, one command a step), and in two halves
(MIGBOT_STAIRWAY_SPLIT=always). Each env.py counts its runs."""

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


def _verify(root, name: str, own_transaction: bool = False, branch=BRANCH, split: str = "off") -> tuple[Result, int]:
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
    for rev, down, upgrade, downgrade in branch:
        repo.revision(rev, down, upgrade, downgrade)
    repo.commit(f"feature: {len(branch)} revisions")
    result = repo.verify(env={"MIGBOT_STAIRWAY_SPLIT": split})
    return result, len(list(runs.iterdir()))


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    path = tmp_path_factory.mktemp("sessions")
    os.chmod(path, 0o755)
    return path


@pytest.fixture(scope="module")
def both(root):
    return _verify(root, "session"), _verify(root, "commands", own_transaction=True)


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


# The first half's re-upgrade fails (the enum type is left behind): the second half must start
# from where the first half's walk really ended, not from the first half applied once.
FIRST_HALF_NOT_CLEAN = [
    ("0003", "0002", BRANCH[-1][2], BRANCH[-1][3]),
    ("0004", "0003", *BRANCH[0][2:]),
    ("0005", "0004", 'op.create_index("ix_users_points", "users", ["points"])',
     'op.drop_index("ix_users_points", table_name="users")'),
    ("0006", "0005", *BRANCH[4][2:]),
]
# An upgrade of the first half fails: the second half is not tried, as in one chain.
FIRST_HALF_STOPS = [
    ("0003", "0002", *BRANCH[0][2:]),
    ("0004", "0003", 'op.execute("SELECT * FROM no_such_table")', "pass"),
    ("0005", "0004", FIRST_HALF_NOT_CLEAN[2][2], FIRST_HALF_NOT_CLEAN[2][3]),
    ("0006", "0005", *BRANCH[4][2:]),
]


def test_two_halves_at_once_see_what_one_chain_sees(root, both):
    (chain, _), _ = both
    halves, _ = _verify(root, "halves", split="always")
    assert _evidence(halves) == _evidence(chain)
    assert _split(halves) and not _split(chain)


def _split(result: Result) -> bool:
    return any(t["step"].endswith(", in two halves at once") for t in result.report["projects"][0]["timings"])


@pytest.mark.parametrize("name, branch", [("not-clean", FIRST_HALF_NOT_CLEAN), ("stops", FIRST_HALF_STOPS)])
def test_two_halves_agree_with_one_chain_when_the_first_half_goes_wrong(root, name, branch):
    chain, _ = _verify(root, f"{name}-chain", branch=branch)
    halves, _ = _verify(root, f"{name}-halves", branch=branch, split="always")
    assert _evidence(halves) == _evidence(chain)
    assert _split(halves) and not _split(chain)
    trips = {t["revision"]: t for t in halves.report["projects"][0]["stairway"]}
    if name == "stops":
        assert halves.status("upgrade") == "fail"
        assert "0004" in halves.check("upgrade")["summary"]
        assert trips["0006"]["upgrade"] == {"status": "skip", "seconds": 0.0, "note": "revision 0004 failed to upgrade"}
    else:
        assert halves.check("reupgrade")["summary"].startswith("0003")
        assert halves.status("downgrade") == "pass" and halves.status("upgrade") == "pass"
