"""Every result a verify run left: one `migbot-report` artifact (one verify job), or, for a
monorepo's matrix, one `migbot-report-<project>` per job and the plan job's `migbot-plan`.

Each artifact is read as untrusted data (artifact.py) and checked against GitHub's event alone;
together they must be of one commit and one pull request, and hold each project once. The plan
only names the projects whose result is missing: nothing in it decides where to publish.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from migbot.github.api import Artifact, GitHubAPI
from migbot.github.artifact import (
    ARTIFACT_NAME,
    MAX_ARTIFACT_BYTES,
    PLAN_ARTIFACT,
    PublishRequest,
    RefusedArtifact,
    error_line,
    printable,
    read_artifact,
    read_plan,
)
from migbot.github.events import VerifyRun
from migbot.plan.matrix import Matrix
from migbot.report.merge import merge_reports
from migbot.report.model import Report

MAX_REPORT_ARTIFACTS = 256  # GitHub runs at most 256 jobs of a matrix


@dataclass
class Part:
    """One verify job's artifact."""

    artifact: str
    request: PublishRequest
    report: Report | None  # None: the job could not run (request.error says why)


@dataclass
class Results:
    parts: list[Part] = field(default_factory=list)
    report: Report | None = None  # the reports of every job that ran, as one
    number: int | None = None  # the pull request to comment on; None: the commit's status only
    plan: Matrix | None = None
    missing: list[str] = field(default_factory=list)  # the planned projects that left no artifact
    expired: bool = False  # there were artifacts, and every one has expired

    def unfinished(self) -> list[str]:
        """A sentence for each project that was not verified: its job could not run, or left nothing."""
        failed = [f"Could not run{' ' + printable(p.request.project, 200) if p.request.project else ''}: "
                  f"{error_line(p.request)}" for p in self.parts if p.report is None]
        return failed + [f"No result for {project}: its verify job left no artifact" for project in self.missing]


def collect(api: GitHubAPI, run: VerifyRun, candidates: list[int]) -> Results:
    """Download and check the run's artifacts; RefusedArtifact when one is not to be published."""
    listed = [a for a in api.run_artifacts(run.run_id) if _is_report(a.name) or a.name == PLAN_ARTIFACT]
    live: dict[str, Artifact] = {}
    for artifact in sorted(listed, key=lambda a: a.id):  # a re-run's replaces the first attempt's
        if not artifact.expired:
            live[artifact.name] = artifact
    results = Results(expired=bool(listed) and not live)
    if PLAN_ARTIFACT in live:
        results.plan = _named(PLAN_ARTIFACT, read_plan, _download(api, live.pop(PLAN_ARTIFACT)))
        results.missing = [printable(entry.project, 200) for entry in results.plan.include
                           if entry.artifact not in live]
    if len(live) > MAX_REPORT_ARTIFACTS:
        raise RefusedArtifact(f"the run has {len(live)} {ARTIFACT_NAME} artifacts; migbot reads at most "
                              f"{MAX_REPORT_ARTIFACTS}, as many as a matrix has jobs")
    numbers = set()
    for name in sorted(live):
        request, report = _named(name, read_artifact, _download(api, live[name]))
        numbers.add(_named(name, check_request, request, run, candidates))
        results.parts.append(Part(name, request, report))
    if len(numbers) > 1:
        raise RefusedArtifact("the artifacts name different pull requests: "
                              + ", ".join(f"#{n}" if n else "none" for n in sorted(numbers, key=lambda n: n or 0)))
    if len({part.request.base_sha for part in results.parts}) > 1:
        raise RefusedArtifact("the artifacts are of different base commits")
    reports = [part.report for part in results.parts if part.report is not None]
    try:
        results.report = merge_reports(reports) if reports else None
    except ValueError as exc:
        raise RefusedArtifact(f"the artifacts do not add up: {exc}") from None
    results.number = numbers.pop() if numbers else None
    return results


def check_request(request: PublishRequest, run: VerifyRun, candidates: list[int]) -> int | None:
    """The pull request to comment on, once the artifact agrees with the run; None: status only."""
    if request.head_sha != run.head_sha:
        raise RefusedArtifact(f"the artifact is for commit {request.head_sha}, but the run verified {run.head_sha}")
    if request.event != run.event:
        raise RefusedArtifact(f"the artifact is for a {request.event} event, but the run was for {run.event}")
    if run.event != "pull_request":
        if request.pull_request is not None:
            raise RefusedArtifact("the artifact names a pull request, but the run was for a merge queue")
        return None
    if request.pull_request in candidates:
        return request.pull_request
    if candidates:
        raise RefusedArtifact(f"the artifact names pull request #{request.pull_request}, but the run was for "
                              + ", ".join(f"#{n}" for n in candidates))
    return None  # no open pull request has this head any more: the commit's status only


def _is_report(name: str) -> bool:
    return name == ARTIFACT_NAME or name.startswith(ARTIFACT_NAME + "-")


def _download(api: GitHubAPI, artifact: Artifact) -> bytes:
    if artifact.size > MAX_ARTIFACT_BYTES:
        raise RefusedArtifact(f"the artifact is larger than {MAX_ARTIFACT_BYTES // (1024 * 1024)} MiB")
    return api.download_artifact(artifact.id, MAX_ARTIFACT_BYTES)


def _named(name: str, read, *args):
    """read(*args), with a refusal naming the artifact when it is one of several (a matrix job's)."""
    try:
        return read(*args)
    except RefusedArtifact as exc:
        if name == ARTIFACT_NAME:
            raise
        raise RefusedArtifact(f"{printable(name, 200)}: {exc.message}") from None
