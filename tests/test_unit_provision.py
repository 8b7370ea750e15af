"""URLs and placeholders for the servers migbot uses, password redaction, temp-dir sweeping."""

from __future__ import annotations

import subprocess
import sys

import pytest

from migbot.errors import UsageError
from migbot.provision.conninfo import ServerInfo
from migbot.provision.tempdirs import LOCK, claim_temp_dir, remove_temp_dir, sweep_stale
from migbot.redact import Redactor


def test_invalid_database_url_is_a_usage_error():
    for url in ("postgresql://u@[::1/postgres", "127.0.0.1:5432", "mysql://x@y/z", "postgresql://u@h:notaport/db"):
        with pytest.raises(UsageError):
            ServerInfo.from_url(url)


def test_urls_for_ipv6_hosts_sockets_and_extra_parameters():
    ipv6 = ServerInfo.from_url("postgresql://u:pw@[::1]:5433/postgres?sslmode=require").placeholders("db")
    assert ipv6["libpq_url"] == "postgresql://u:pw@[::1]:5433/db?sslmode=require"
    socket = ServerInfo.from_url("postgresql://u@/postgres?host=/run/postgresql").placeholders("db")
    assert socket["libpq_url"] == "postgresql://u@/db?host=%2Frun%2Fpostgresql&port=5432"
    assert ServerInfo.from_url("postgresql://u@/postgres?host=/run/postgresql").admin_kwargs()["host"] == "/run/postgresql"


def test_every_form_of_the_password_is_redacted():
    info = ServerInfo.from_url("postgresql://u:p%40ss%25word@localhost/postgres")
    assert info.password == "p@ss%word"
    redact = Redactor(info.secrets())
    for leak in ("p@ss%word", "p%40ss%25word", "p@ss%%word"):
        assert redact(f"url postgresql://u:{leak}@h/db") == "url postgresql://u:********@h/db"


def test_sweep_removes_only_dirs_no_live_run_holds(tmp_path):
    live = claim_temp_dir("migbot-", tmp_path)  # held by this process
    held_elsewhere = tmp_path / "migbot-other"
    held_elsewhere.mkdir()
    (held_elsewhere / LOCK).touch()
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_WRONLY); "
                               "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
                               str(held_elsewhere / LOCK)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        stale = tmp_path / "migbot-stale"
        stale.mkdir()
        (stale / LOCK).touch()
        unrelated = tmp_path / "migbot-not-ours"
        unrelated.mkdir()
        sweep_stale([tmp_path])
        assert live.exists() and held_elsewhere.exists() and unrelated.exists()
        assert not stale.exists()
    finally:
        holder.kill()
        holder.wait()
    # Once its holder is gone, the kernel has released the lock: the dir is stale now.
    sweep_stale([tmp_path])
    assert not held_elsewhere.exists()
    remove_temp_dir(live)
    assert not live.exists()


def test_claimed_dir_is_locked_against_other_processes(tmp_path):
    path = claim_temp_dir("migbot-", tmp_path)
    probe = subprocess.run([sys.executable, "-c", "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_WRONLY); "
                            "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)", str(path / LOCK)], capture_output=True)
    assert probe.returncode != 0  # BlockingIOError: this process holds it
    remove_temp_dir(path)


# /proc/self/mounts of the Action's container on GitHub's runner (Docker, overlay2), trimmed.
RUNNER_MOUNTS = """\
overlay / overlay rw,relatime,lowerdir=/var/lib/docker/overlay2/l/A,upperdir=/u,workdir=/w 0 0
shm /dev/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=65536k 0 0
/dev/root /github/home ext4 rw,relatime,discard 0 0
/dev/root /github/workspace ext4 rw,relatime,discard 0 0
"""


def test_a_containers_own_layer_is_copy_on_write_and_its_mounted_home_is_not():
    from pathlib import Path

    from migbot.provision.server import _copy_on_write

    assert _copy_on_write(Path("/tmp"), RUNNER_MOUNTS)
    assert _copy_on_write(Path("/"), RUNNER_MOUNTS)
    assert not _copy_on_write(Path("/github/home"), RUNNER_MOUNTS)
    assert not _copy_on_write(Path("/github/home/x/y"), RUNNER_MOUNTS)
    assert not _copy_on_write(Path("/github/homework"), RUNNER_MOUNTS.replace("overlay / overlay", "/dev/vda / ext4"))
    assert _copy_on_write(Path("/github/homework"), RUNNER_MOUNTS)  # a sibling, not inside the mount
