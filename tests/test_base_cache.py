"""The base state kept between runs: a warm run restores it instead of running the base's code,
reaches the verdicts a cold run reaches, and builds it again when the entry is not that state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import Repo, Result

CACHED = "came from migbot's cache"


@pytest.fixture
def branch(repo: Repo) -> Repo:
    """A branch with one good revision and one whose downgrade does nothing."""
    repo.revision("0003", "0002", 'op.add_column("users", sa.Column("age", sa.Integer()))',
                  'op.drop_column("users", "age")')
    repo.revision("0004", "0003", 'op.create_index("users_age", "users", ["age"])', "pass")
    repo.commit("feature: two revisions")
    return repo


def verify(repo: Repo, cache: Path, *args: str) -> Result:
    return repo.verify(*args, env={"MIGBOT_CACHE_DIR": str(cache), "MIGBOT_BASE_CACHE": "always"})


def verdicts(result: Result) -> list[tuple]:
    return [(c["id"], c["status"], c["summary"], [f["message"] for f in c["findings"]])
            for c in result.report["projects"][0]["checks"]]


def entries(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "bases").iterdir() if not p.name.startswith("."))


def test_a_warm_run_restores_the_base_instead_of_running_its_code_and_reaches_the_same_verdicts(branch, tmp_path):
    cache = tmp_path / "cache"
    cold = verify(branch, cache)
    assert cold.exit_code == 1 and cold.failed()
    assert not any(CACHED in note for note in cold.report["notes"])
    [entry] = entries(cache)
    assert {p.name for p in entry.iterdir()} == {"state.json", "base.dump", "data.dump"}

    warm = verify(branch, cache)
    assert warm.exit_code == 1
    assert verdicts(warm) == verdicts(cold)
    [note] = [n for n in warm.report["notes"] if CACHED in n]
    assert "(2 revisions, at 0002)" in note and "checked against its schema snapshot" in note
    assert "restoring the base state from migbot's cache" in warm.stderr
    assert "loading env.py and models at base" not in warm.stderr  # none of the base's code ran
    # The base's seeds ran on the cold run; the warm one reports them from the cache.
    assert warm.check("seeds-run") == cold.check("seeds-run")


def test_another_base_or_other_settings_miss_the_cache(branch, tmp_path):
    cache = tmp_path / "cache"
    verify(branch, cache)
    config = tmp_path / "migbot.toml"
    config.write_text('[tool.migbot]\nenv = { EXTRA = "1" }\n')
    other_settings = verify(branch, cache, "--config", str(config))
    assert not any(CACHED in note for note in other_settings.report["notes"])
    branch.commit_on_main("app/models/note.py", "# a file the base imports nowhere still changes its files\n")
    branch.git("rebase", "-q", "main")
    other_base = verify(branch, cache)
    assert not any(CACHED in note for note in other_base.report["notes"])
    assert len(entries(cache)) == 3


@pytest.mark.parametrize("damage", ["snapshot", "archive"])
def test_an_entry_that_does_not_restore_the_kept_state_is_built_again(branch, tmp_path, damage):
    cache = tmp_path / "cache"
    cold = verify(branch, cache)
    [entry] = entries(cache)
    if damage == "snapshot":  # the kept snapshot names a table the archive does not hold
        state = json.loads((entry / "state.json").read_text())
        state["base_snapshot"]["objects"]["table"]["public.ghost"] = {"kind": "table"}
        (entry / "state.json").write_text(json.dumps(state))
        why = "the restored database differs from the one kept"
    else:
        (entry / "base.dump").write_bytes((entry / "base.dump").read_bytes()[:200])
        why = "could not be used ("
    rebuilt = verify(branch, cache)
    assert verdicts(rebuilt) == verdicts(cold)
    [note] = [n for n in rebuilt.report["notes"] if "migbot's cache held this base state" in n]
    assert why in note and note.endswith("it was built again.")
    assert "loading env.py and models at base" in rebuilt.stderr


def test_with_the_cache_off_nothing_is_kept(branch, tmp_path):
    cache = tmp_path / "cache"
    result = branch.verify(env={"MIGBOT_CACHE_DIR": str(cache), "MIGBOT_BASE_CACHE": "off"})
    assert result.exit_code == 1
    assert not (cache / "bases").exists()
