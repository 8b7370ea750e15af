"""`mode: verify`: run the pull request's code with no GitHub client; the result goes to a folder
the workflow uploads as an artifact for the publish job."""

from __future__ import annotations

from migbot.errors import EXIT_CHECKS_FAILED, EXIT_OK, MigbotError
from migbot.github.artifact import (
    ARTIFACT_NAME,
    FOLDER,
    MAX_PROJECT_CHARS,
    PublishRequest,
    write_folder,
)
from migbot.github.checkout import require_commits
from migbot.github.events import VerifyCommits, VerifyPull
from migbot.github.job import REPORT_PATH, Job
from migbot.github.publish import failing, outputs


class VerifyJob(Job):
    """`mode: verify`: the pull request's code runs here, with a read-only token and no secrets.

    It holds no GitHub client: the result goes to the log, annotations, the step summary, and
    the folder the workflow uploads for the publish job (the report and a publish request)."""

    def run(self, trigger: VerifyPull | VerifyCommits) -> int:
        project = self.env.project[:MAX_PROJECT_CHARS] or None  # the input, as the request can hold it
        if isinstance(trigger, VerifyPull):
            pull = trigger.pull
            what = {"event": "pull_request", "pull_request": pull.number, "project": project}
            base, head, labels = pull.base_sha, pull.head_sha, (pull.base_ref, pull.head_ref)
        else:
            what = {"event": "merge_group", "pull_request": None, "project": project}
            base, head, labels = trigger.base_sha, trigger.head_sha, (trigger.base_sha[:12], trigger.head_ref)
        try:
            require_commits(self.env.workspace, {"base": base, "head": head})
            report = self._verify(base, head, *labels)
        except MigbotError as exc:
            message, _ = self._log_failure(exc)
            write_folder(self.env.workspace, PublishRequest(**what, base_sha=base, head_sha=head, result="error",
                                                            error=message[:2000]), None)
            self.workflow.set_outputs({"result": "error"})
            return exc.exit_code
        fails = failing(report, self.env.fail_on)
        write_folder(self.env.workspace, PublishRequest(
            **what, base_sha=report.refs.base, head_sha=report.refs.head, result=report.result,
            projects=[p.alembic_ini for p in report.projects]), report)
        self._show(report)
        self.workflow.set_outputs(outputs(report, "fail" if fails else "pass", REPORT_PATH))
        artifact = f"`{ARTIFACT_NAME}-…` artifact (the plan's `artifact`)" if self.env.project \
            else f"`{ARTIFACT_NAME}` artifact"
        note = (f"migbot ran as `mode: verify`, with no write access: the publish workflow posts this summary "
                f"and sets the `migbot` status from the {artifact} of this run.")
        self.workflow.add_summary(f"> [!NOTE]\n> {note}\n\n" + self._summary(report, head))
        self.workflow.echo(f"migbot: wrote {FOLDER}/ for the publish workflow (upload it as the {artifact}).")
        return EXIT_CHECKS_FAILED if fails else EXIT_OK
