"""A throwaway PostgreSQL server, started from the binaries on the machine.

initdb and postgres refuse to run as root, so when migbot is root the server runs
as an unprivileged user (Debian's `postgres`, else `nobody`). The data directory
comes from a cached, already initialised cluster (copying it takes ~0.15 s where
initdb takes ~1.2 s). Local socket connections are trusted, but the socket
directory is private to the server's user; TCP on 127.0.0.1 needs the password.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import psycopg

from migbot import _proc
from migbot.errors import InfraError
from migbot.provision.binaries import find_bindir
from migbot.provision.conninfo import ServerInfo
from migbot.provision.tempdirs import claim_temp_dir, remove_temp_dir

SUPERUSER = "migbot"
MAINTENANCE_DB = "template1"  # the cached cluster has no `postgres` database
START_TIMEOUT = 30.0
_SERVER_SETTINGS = {
    # Durability is worthless for a throwaway server.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "jit": "off",  # compiling a query costs more than it saves on test data (and the Action's image has no JIT)
    "max_connections": "40",
    "shared_buffers": "32MB",
    "max_locks_per_transaction": "256",
    "log_min_messages": "warning",
    "log_min_error_statement": "panic",
    "unix_socket_permissions": "0700",
}


@dataclass
class RunAs:
    """The OS user the server runs as (None: migbot's own user)."""

    uid: int | None = None
    gid: int | None = None
    name: str = ""

    @classmethod
    def for_current_process(cls) -> RunAs:
        if os.geteuid() != 0:
            return cls(name=pwd.getpwuid(os.geteuid()).pw_name)
        for name in ("postgres", "nobody"):
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                continue
            return cls(uid=entry.pw_uid, gid=entry.pw_gid, name=name)
        raise InfraError(
            "migbot runs as root, and PostgreSQL refuses to; no 'postgres' or 'nobody' user exists to run it as.",
            hint="Create an unprivileged user named postgres, or run migbot as a normal user.",
        )

    def chown(self, path: Path) -> None:
        if self.uid is not None:
            os.chown(path, self.uid, self.gid)

    def popen_kwargs(self) -> dict:
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


@dataclass
class ThrowawayServer:
    """A running postgres child process and how to reach it."""

    bindir: Path
    workdir: Path
    run_as: RunAs
    info: ServerInfo
    process: subprocess.Popen | None
    log_path: Path
    version: str
    timings: dict[str, float] = field(default_factory=dict)
    _launched_at: float = 0.0
    _log_offset: int = 0
    _copy: subprocess.Popen | None = None

    def launch(self) -> None:
        args = [str(self.bindir / "postgres"), "-D", str(self.workdir / "data"), "-k", self.info.socket_dir,
                "-p", str(self.info.port), "-c", "listen_addresses=127.0.0.1"]
        for key, value in _SERVER_SETTINGS.items():
            args += ["-c", f"{key}={value}"]
        self._launched_at = time.monotonic()
        self._log_offset = self.log_path.stat().st_size  # this launch's part of the log
        with open(self.log_path, "ab") as log:
            try:
                self.process = _proc.spawn(args, death_signal=signal.SIGQUIT, stdin=subprocess.DEVNULL,
                                           stdout=log, stderr=subprocess.STDOUT, **self.run_as.popen_kwargs())
            except OSError as exc:
                shutil.rmtree(self.workdir, ignore_errors=True)
                raise InfraError(f"Could not start {args[0]} as user {self.run_as.name}: {exc.strerror}.") from None

    def wait_ready(self) -> None:
        """Wait until the server accepts connections, then set migbot's password.
        On a port taken in the meantime, relaunch on another (three tries)."""
        if self._copy is not None:
            _, err = self._copy.communicate()
            failed, self._copy = self._copy.returncode, None
            if failed:
                self.stop()
                raise InfraError(f"Could not copy the cached PostgreSQL cluster: {err.decode(errors='replace').strip()}")
            (self.workdir / "data" / "postmaster.pid").unlink(missing_ok=True)
            self.timings["data directory"] = time.monotonic() - self._launched_at
            self.launch()
        for _ in range(3):
            try:
                _wait_ready(self)
            except _PortTaken:
                _proc.terminate(self.process, first=signal.SIGQUIT, grace=5.0)
                self.info = replace(self.info, port=_free_port())
                self.launch()
                continue
            except BaseException:
                self.stop()
                raise
            self.timings["start"] = time.monotonic() - self._launched_at
            _set_password(self)
            return
        self.stop()
        raise InfraError("PostgreSQL could not find a free TCP port on 127.0.0.1 after 3 attempts.")

    def stop(self) -> None:
        if self._copy is not None:
            self._copy.kill()
            self._copy.wait()
        # SIGINT is postgres's fast shutdown; SIGQUIT its immediate one.
        if self.process is not None:
            _proc.terminate(self.process, first=signal.SIGINT, grace=10.0)
        remove_temp_dir(self.workdir)

    def log_tail(self, lines: int = 20, since_launch: bool = False) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_offset if since_launch else 0)
                text = log.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def launch_server(parent_dir: Path, *, bindir: Path | None = None) -> ThrowawayServer:
    """Start a private PostgreSQL without waiting for it to accept connections (see
    ThrowawayServer.wait_ready), so it boots while migbot does other work."""
    bindir = bindir or find_bindir()
    run_as = RunAs.for_current_process()
    version = _server_version(bindir)
    workdir = claim_temp_dir("migbot-pg-", _server_parent(parent_dir, run_as))
    sockdir = workdir / "sock"
    sockdir.mkdir(mode=0o700)
    run_as.chown(sockdir)
    log_path = workdir / "postgres.log"
    log_path.touch()
    run_as.chown(log_path)
    try:
        cluster = _cached_cluster(bindir, version, run_as)
    except Exception:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    info = ServerInfo(host="127.0.0.1", port=_free_port(), user=SUPERUSER, password=secrets.token_hex(16),
                      socket_dir=str(sockdir), maintenance_db=MAINTENANCE_DB)
    server = ThrowawayServer(bindir, workdir, run_as, info, None, log_path, version)
    # The copy runs in the background; postgres starts from it in wait_ready().
    server._copy = subprocess.Popen(["cp", "-a", str(cluster), str(workdir / "data")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server._launched_at = time.monotonic()
    return server


class _PortTaken(Exception):
    pass


def _wait_ready(server: ThrowawayServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.process.poll() is not None:
            log = server.log_tail(since_launch=True)
            if "could not bind" in log or "Address already in use" in log:
                raise _PortTaken()
            raise InfraError(
                f"PostgreSQL exited during start-up (exit code {server.process.returncode}).",
                hint=f"Its log ends with:\n{log}" if log else None,
            )
        try:
            with psycopg.connect(**server.info.admin_kwargs(), connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise InfraError(
                    f"PostgreSQL did not accept connections within {START_TIMEOUT:.0f} s.",
                    hint=server.log_tail() or None,
                ) from None
            time.sleep(0.01)


def _set_password(server: ThrowawayServer) -> None:
    with psycopg.connect(**server.info.admin_kwargs(), autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                psycopg.sql.Identifier(SUPERUSER), psycopg.sql.Literal(server.info.password)
            )
        )


TMPFS = Path("/dev/shm")
TMPFS_MIN_FREE = 1 << 30


def _server_parent(parent_dir: Path, run_as: RunAs) -> Path:
    """Where the data directory goes: memory when there is room, else parent_dir.

    On a disk, every CREATE DATABASE waits on writeback (~0.3 s each here); on tmpfs it
    takes ~10 ms, and the whole start-up drops from ~0.9 s to ~0.15 s. A throwaway
    server needs no durability. Not on a container's copy-on-write layer either, when HOME
    is a mounted directory. MIGBOT_PG_TMPDIR overrides the choice.
    """
    if os.environ.get("MIGBOT_PG_TMPDIR"):
        return Path(os.environ["MIGBOT_PG_TMPDIR"])
    foreign = run_as.uid is not None  # the server's user must be able to walk down to it
    try:
        stats = os.statvfs(TMPFS)
        roomy = stats.f_bavail * stats.f_frsize >= TMPFS_MIN_FREE and os.access(TMPFS, os.W_OK)
    except OSError:
        roomy = False
    if roomy and (not foreign or _reachable_by_others(TMPFS)):
        return TMPFS
    chosen = parent_dir
    if foreign and not _reachable_by_others(parent_dir):
        # A private TMPDIR (0700) is closed to the server's user: use a shared temp dir.
        chosen = next((Path(d) for d in ("/tmp", "/var/tmp") if _reachable_by_others(Path(d))), parent_dir)
    if _copy_on_write(chosen):
        # A container's own layer (the Action's, with Docker's 64 MB /dev/shm): every file
        # PostgreSQL writes is copied up, and CREATE DATABASE copies hundreds. HOME is a
        # mounted directory there (/github/home on GitHub's runner).
        home = Path(os.environ.get("HOME") or "/")
        if home.is_dir() and os.access(home, os.W_OK) and not _copy_on_write(home) and \
                (not foreign or _reachable_by_others(home)):
            return home
    return chosen


COPY_ON_WRITE = ("overlay", "fuse.fuse-overlayfs", "aufs")


def _copy_on_write(path: Path, mounts_text: str | None = None) -> bool:
    """Is `path` on a container's copy-on-write layer (overlayfs, aufs), per /proc/self/mounts?"""
    try:
        text = Path("/proc/self/mounts").read_text() if mounts_text is None else mounts_text
        mounts = [line.split()[1:3] for line in text.splitlines() if len(line.split()) >= 3]
        target = str(path.resolve())
    except OSError:
        return False
    best = max((m for m in mounts if target == m[0] or target.startswith(m[0].rstrip("/") + "/")),
               key=lambda m: len(m[0]), default=None)
    return best is not None and best[1] in COPY_ON_WRITE


def _reachable_by_others(path: Path) -> bool:
    """Can another user walk down to `path` (execute permission on it and every parent)?"""
    path = path.resolve()
    for directory in (path, *path.parents):
        try:
            if not os.stat(directory).st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_version(bindir: Path) -> str:
    try:
        out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True,
                             timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise InfraError(f"Could not run {bindir / 'postgres'} --version: {exc}") from None
    match = re.search(r"\(PostgreSQL\)\s+(\d+(?:\.\d+)*)", out)
    return match.group(1) if match else out.strip().split()[-1]


def cache_root() -> Path:
    if os.environ.get("MIGBOT_CACHE_DIR"):
        return Path(os.environ["MIGBOT_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "migbot"


def prepare_cluster() -> Path:
    """Make the cached cluster for the server on this machine, as the current user would run
    it (the Action's image does this when it is built: see MIGBOT_PREBUILT_CACHE)."""
    bindir = find_bindir()
    return _cached_cluster(bindir, _server_version(bindir), RunAs.for_current_process())


def _cached_cluster(bindir: Path, version: str, run_as: RunAs) -> Path:
    """An initialised data directory for this server build, made once and reused.

    A read-only cache made in advance (MIGBOT_PREBUILT_CACHE) is looked in first: its
    cluster is used when its name, which holds the server build, is this one's.
    """
    key = hashlib.sha256(f"{bindir}|{version}|{run_as.name}|v4".encode()).hexdigest()[:16]
    name = f"pg{version}-{run_as.name}-{key}"
    if os.environ.get("MIGBOT_PREBUILT_CACHE"):
        prebuilt = Path(os.environ["MIGBOT_PREBUILT_CACHE"]) / "clusters" / name
        if (prebuilt / "PG_VERSION").is_file() and os.access(prebuilt, os.R_OK | os.X_OK):
            return prebuilt
    root = cache_root() / "clusters"
    cluster = root / name
    if (cluster / "PG_VERSION").is_file():
        return cluster
    root.mkdir(parents=True, exist_ok=True)
    # initdb runs in the system temp dir: the server's user may not be able to
    # enter the cache (root's home is 0700). The result is copied in after.
    scratch = Path(tempfile.mkdtemp(prefix="migbot-initdb-"))
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    try:
        os.chmod(scratch, 0o711)
        datadir = scratch / "data"
        datadir.mkdir(mode=0o700)
        run_as.chown(datadir)
        # 1 MB WAL segments: the first segment is in every copy of the cluster (16 MB by default).
        args = [str(bindir / "initdb"), "-D", str(datadir), "-E", "UTF8", "--locale=C", "--no-sync",
                "--wal-segsize=1", "-U", SUPERUSER, "--auth-local=trust", "--auth-host=scram-sha-256",
                "--no-instructions"]
        try:
            result = subprocess.run(args, check=False, capture_output=True, text=True, cwd=scratch, **run_as.popen_kwargs())
        except OSError as exc:
            raise InfraError(f"Could not run {args[0]} as user {run_as.name}: {exc.strerror}.",
                             hint=f"The PostgreSQL binaries and their directories must be readable by {run_as.name}.") from None
        if result.returncode != 0:
            raise InfraError(f"initdb failed (exit code {result.returncode}).",
                             hint=(result.stderr or result.stdout)[-2000:])
        # No `postgres` database: a third fewer files to copy at every start.
        subprocess.run([str(bindir / "postgres"), "--single", "-D", str(datadir), MAINTENANCE_DB],
                       input="DROP DATABASE postgres;\n", check=False, capture_output=True, text=True, cwd=scratch,
                       **run_as.popen_kwargs())
        _drop_spare_wal(bindir, datadir, run_as)
        _copy_cluster(datadir, staging / "data")
        try:
            os.rename(staging / "data", cluster)  # atomic: a concurrent run sees all of it or none
        except OSError:
            if not (cluster / "PG_VERSION").is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)
    return cluster


def _drop_spare_wal(bindir: Path, datadir: Path, run_as: RunAs) -> None:
    """Keep only the WAL segment of a shut-down cluster's last checkpoint: the others are
    initdb's, recycled for later use, and every start would copy them; PostgreSQL makes new
    segments as it needs them. Nothing is removed when pg_controldata cannot say."""
    try:
        out = subprocess.run([str(bindir / "pg_controldata"), str(datadir)], check=True, capture_output=True,
                             text=True, env={**os.environ, "LC_ALL": "C"}, **run_as.popen_kwargs()).stdout
    except (OSError, subprocess.CalledProcessError):
        return
    redo = re.search(r"^Latest checkpoint's REDO WAL file:\s+([0-9A-F]{24})$", out, re.MULTILINE)
    if redo is None or not re.search(r"^Database cluster state:\s+shut down$", out, re.MULTILINE):
        return
    for segment in (datadir / "pg_wal").iterdir():
        if re.fullmatch(r"[0-9A-F]{24}", segment.name) and segment.name != redo.group(1):
            segment.unlink()


def _copy_cluster(source: Path, target: Path) -> None:
    result = subprocess.run(["cp", "-a", str(source), str(target)], check=False, capture_output=True, text=True)
    if result.returncode != 0:
        raise InfraError(f"Could not copy the cached PostgreSQL cluster: {result.stderr.strip()}")
    # A crashed server may have left its pid file in the cache; never copy it.
    (target / "postmaster.pid").unlink(missing_ok=True)


if __name__ == "__main__":
    print(prepare_cluster())
