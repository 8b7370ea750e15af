"""The README's first command: the demo says where its repository is and whether it stays (issue 13)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "examples" / "demo.py"), "--quiet", "--format", "json", *args],
                          capture_output=True, text=True, timeout=300)


def test_the_demo_says_its_repository_is_deleted_and_deletes_it():
    done = _demo()
    assert done.returncode == 0, done.stderr
    match = re.search(r"Demo repository: (\S+) \(branch feature/orders, base main; deleted when the demo ends; "
                      r"`--keep DIR` keeps one\)", done.stderr)
    assert match, done.stderr
    assert not Path(match.group(1)).exists()


def test_with_keep_the_repository_stays_where_it_says(tmp_path):
    done = _demo("--keep", str(tmp_path / "shop"))
    assert done.returncode == 0, done.stderr
    assert f"Demo repository: {tmp_path / 'shop'} (branch feature/orders, base main; kept)" in done.stderr
    assert (tmp_path / "shop" / ".git").is_dir()
