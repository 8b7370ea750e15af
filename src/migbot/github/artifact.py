"""The verify job's result as an artifact: written by `mode: verify`, read by `mode: publish`.

The verify job runs the pull request's code (its workflow file, even, comes from the pull
request), so everything in its artifact is the pull request's word. The publish job reads it as
untrusted data: only the expected file names, within size limits, parsed by strict models, and
nothing in it decides where to publish. The commit and the pull request come from GitHub's
workflow_run event; the artifact must agree with them, or it is refused.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from migbot.catalog import BY_ID
from migbot.errors import EXIT_CHECKS_FAILED, MigbotError
from migbot.plan.matrix import REPORT_ARTIFACT, Matrix
from migbot.report.model import SCHEMA_VERSION, Counts, Report

ARTIFACT_NAME = REPORT_ARTIFACT  # the name the verify workflow uploads the folder under (a matrix: ARTIFACT_NAME-*)
PLAN_ARTIFACT = "migbot-plan"  # a monorepo's plan job uploads `migbot plan`'s matrix under this name
FOLDER = ".migbot"  # relative to the workspace
REPORT_FILE = "report.json"
REQUEST_FILE = "publish-request.json"
PLAN_FILE = "plan.json"

MAX_ARTIFACT_BYTES = 8 * 1024 * 1024  # the zip, as GitHub reports and serves it
MAX_REPORT_BYTES = 32 * 1024 * 1024  # report.json, unpacked (reports are a few hundred KB)
MAX_REQUEST_BYTES = 64 * 1024  # publish-request.json, unpacked
MAX_PLAN_BYTES = 256 * 1024  # plan.json, unpacked
MAX_ERROR_CHARS = 2000
MAX_PROJECT_CHARS = 1000

Sha = Annotated[str, StringConstraints(pattern=r"^([0-9a-f]{40}|[0-9a-f]{64})$")]
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


class RefusedArtifact(MigbotError):
    """The artifact is not something the publish job will publish: said in an `error` status."""

    exit_code = EXIT_CHECKS_FAILED


class PublishRequest(BaseModel):
    """What the verify job verified: the facts the publish job checks against GitHub's own."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kind: Literal["migbot-publish-request"] = "migbot-publish-request"
    version: Literal[1] = 1
    event: Literal["pull_request", "merge_group"]
    pull_request: Annotated[int, Field(ge=1)] | None = None
    # The project input: one job of a monorepo's matrix verified this project alone. Left out when unset,
    # so that a publish job of an earlier version still reads the request of a verify job of this one.
    project: Annotated[str, StringConstraints(max_length=MAX_PROJECT_CHARS)] | None = None
    base_sha: Sha
    head_sha: Sha
    projects: list[Annotated[str, StringConstraints(max_length=1000)]] = Field(default=[], max_length=1000)
    result: Literal["pass", "fail", "error"]
    error: Annotated[str, StringConstraints(max_length=MAX_ERROR_CHARS)] | None = None


def fresh_folder(folder: Path) -> Path:
    """An empty real folder at `folder`: whatever the pull request committed or left there (files,
    a symlink to elsewhere) is removed, never followed."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        folder.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    return folder


def write_folder(workspace: Path, request: PublishRequest, report: Report | None) -> Path:
    """The folder the workflow uploads: the request, and the report when there is one. Anything
    else in it (left by the project's code) is removed, so that the artifact holds only these."""
    folder = fresh_folder(workspace / FOLDER)
    if report is not None:
        (folder / REPORT_FILE).write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    unset = {"project"} if request.project is None else set()
    (folder / REQUEST_FILE).write_text(request.model_dump_json(indent=2, exclude=unset) + "\n", encoding="utf-8")
    return folder


def read_artifact(data: bytes) -> tuple[PublishRequest, Report | None]:
    """The request and the report from the artifact's zip, or RefusedArtifact saying why."""
    texts = _unzip(data, {REPORT_FILE: MAX_REPORT_BYTES, REQUEST_FILE: MAX_REQUEST_BYTES})
    if REQUEST_FILE not in texts:
        raise RefusedArtifact(f"the artifact has no {REQUEST_FILE}")
    try:
        request = PublishRequest.model_validate_json(texts[REQUEST_FILE])
    except ValidationError as exc:
        raise RefusedArtifact(f"{REQUEST_FILE} is not a publish request: {_first_error(exc)}") from None
    report = None
    if REPORT_FILE in texts:
        report = _parse_report(texts[REPORT_FILE])
    if request.result == "error":
        if report is not None:
            raise RefusedArtifact(f"{REQUEST_FILE} says the verify job could not run, yet the artifact holds a report")
    elif report is None:
        raise RefusedArtifact(f"the artifact has no {REPORT_FILE}")
    elif request.result != report.result or request.projects != [p.alembic_ini for p in report.projects] \
            or (request.base_sha, request.head_sha) != (report.refs.base, report.refs.head) \
            or (request.project is not None and len(report.projects) != 1):
        raise RefusedArtifact(f"{REQUEST_FILE} and {REPORT_FILE} disagree about what was verified")
    return request, report


def read_plan(data: bytes) -> Matrix:
    """The matrix a monorepo's plan job uploaded (`migbot plan`'s JSON, as plan.json): which
    projects the verify run meant to verify, so that one that left no result is not missed."""
    texts = _unzip(data, {PLAN_FILE: MAX_PLAN_BYTES})
    if PLAN_FILE not in texts:
        raise RefusedArtifact(f"the {PLAN_ARTIFACT} artifact has no {PLAN_FILE}")
    try:
        return Matrix.model_validate_json(texts[PLAN_FILE])
    except ValidationError as exc:
        raise RefusedArtifact(f"{PLAN_FILE} is not the matrix `migbot plan` prints: {_first_error(exc)}") from None


def error_line(request: PublishRequest) -> str:
    """The verify job's reason for not running, as one printable line (it is the pull request's text)."""
    return printable(request.error or "the verify job could not run", 300)


def _unzip(data: bytes, limits: dict[str, int]) -> dict[str, bytes]:
    """The files of an artifact's zip, each within its limit; only the names `limits` holds."""
    if len(data) > MAX_ARTIFACT_BYTES:
        raise RefusedArtifact(f"the artifact is larger than {MAX_ARTIFACT_BYTES // (1024 * 1024)} MiB")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:  # also: a zip64 record that lies
        raise RefusedArtifact(f"the artifact is not a zip file ({exc})") from None
    names = [m.filename for m in members]
    unexpected = sorted({n for n in names if n not in limits})
    if unexpected:
        shown = ", ".join(repr(printable(n, 80)) for n in unexpected[:5])
        raise RefusedArtifact(f"the artifact holds files migbot does not expect: {shown}; it takes only "
                              f"{' and '.join(limits)}")
    if len(names) != len(set(names)):
        raise RefusedArtifact("the artifact holds the same file twice")
    return {m.filename: _read_member(archive, m, limits[m.filename]) for m in members}


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limit: int) -> bytes:
    if member.is_dir():
        raise RefusedArtifact(f"the artifact holds a folder, {printable(member.filename, 80)!r}")
    if member.file_size > limit:
        raise RefusedArtifact(f"{member.filename} is larger than {_size(limit)} unpacked")
    try:
        with archive.open(member) as handle:
            data = handle.read(limit + 1)  # the header's size may lie: never unpack more than the limit
    except Exception as exc:  # noqa: BLE001 - corrupt data (zlib.error), encryption (RuntimeError), ...: untrusted input
        raise RefusedArtifact(f"{member.filename} cannot be unpacked ({type(exc).__name__})") from None
    if len(data) > limit:
        raise RefusedArtifact(f"{member.filename} is larger than {_size(limit)} unpacked")
    return data


def _parse_report(text: bytes) -> Report:
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than the parser takes
        raise RefusedArtifact(f"{REPORT_FILE} is not JSON ({type(exc).__name__})") from None
    if not isinstance(raw, dict) or raw.get("schema_version") != SCHEMA_VERSION:
        found = raw.get("schema_version") if isinstance(raw, dict) else None
        raise RefusedArtifact(f"{REPORT_FILE} has schema_version {printable(repr(found), 40)}, not {SCHEMA_VERSION}: "
                              "the verify and publish workflows must use the same migbot version")
    try:
        report = Report.model_validate(raw)
    except ValidationError as exc:
        raise RefusedArtifact(f"{REPORT_FILE} is not a migbot report: {_first_error(exc)}") from None
    unknown = sorted({c.id for p in report.projects for c in p.checks} - set(BY_ID))
    if unknown:
        raise RefusedArtifact(f"{REPORT_FILE} names checks migbot does not have: "
                              f"{', '.join(printable(u, 40) for u in unknown[:5])}")
    if report.counts != Counts.of(report.projects) or \
            report.result != ("fail" if any(p.result == "fail" for p in report.projects) else "pass"):
        raise RefusedArtifact(f"{REPORT_FILE} does not add up: its result or counts are not its checks'")
    return report


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error.get("loc", ()))
    return printable(f"{where}: {error.get('msg', '')}" if where else error.get("msg", ""), 200)


def printable(text: str, limit: int) -> str:
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"
