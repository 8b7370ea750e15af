"""What every mode of `migbot action` shares: the inputs, the log, the step summary and outputs,
redaction, running the engine and showing its report."""

from __future__ import annotations

import base64
import os
import sys

from migbot.discover.git import GitRepo, at_root
from migbot.errors import MigbotError
from migbot.github.artifact import FOLDER
from migbot.github.env import ActionEnv
from migbot.github.install import install_project
from migbot.github.publish import annotations
from migbot.github.workflow import (
    STEP_SUMMARY_LIMIT,
    Workflow,
    annotation,
    stop_commands,
)
from migbot.pipeline import VerifyOptions, verify
from migbot.provision.conninfo import ServerInfo
from migbot.provision.tempdirs import claim_temp_dir, remove_temp_dir
from migbot.redact import Redactor
from migbot.report.fit import fit_markdown
from migbot.report.markdown import fenced, inline_text
from migbot.report.model import Report
from migbot.report.terminal import TerminalProgress, console_for, render_terminal

REPORT_PATH = f"{FOLDER}/report.json"  # relative to the workspace, so later steps can upload it


class Job:
    """What every mode shares: the inputs, the log, the step summary and outputs, and redaction."""

    def __init__(self, env: ActionEnv, workflow: Workflow):
        self.env = env
        self.workflow = workflow
        # The token also as git's extraheader carries it (actions/checkout's persisted credentials).
        encoded = [base64.b64encode(form.encode()).decode() for form in (env.token, f"x-access-token:{env.token}")]
        secrets = [env.token, *encoded] + (ServerInfo.from_url(env.database_url).secrets() if env.database_url else [])
        self.redact = Redactor(secrets)
        self.run_url = env.run_url  # where the whole result is: this run's page (publish: the verify run's)

    def _verify(self, base: str, head: str, base_label: str, head_label: str) -> Report:
        """Install the project and run the engine: the only place the project's code runs."""
        venv = claim_temp_dir("migbot-venv-") if self.env.install else None
        tree = claim_temp_dir("migbot-install-") if self.env.install else None
        resume = None
        try:
            if venv is not None:
                # The install command runs in an export of the commit to verify, never in the
                # workspace, whose .git and files later steps of the job trust.
                # Files git cannot read are left out (and said), except at the root (pyproject.toml, ...).
                for left_out in GitRepo(self.env.workspace).export_tree(head, tree / "tree", required=at_root):
                    print(f"migbot: warning: {left_out.path!r} is not in the install's tree: {left_out.reason}",
                          file=sys.stderr)  # !r: a path's newline must not start a workflow command
                os.environ["VIRTUAL_ENV"] = str(install_project(self.env.install, tree / "tree", venv,
                                                                self.workflow))
            # A line of the project's output that looks like a workflow command must not be obeyed.
            resume = self._stop_commands()
            progress = TerminalProgress(stream=sys.stdout)
            try:
                return verify(VerifyOptions(repo=self.env.workspace, base=base, head=head,
                                            database_url=self.env.database_url, config_in_repo=self.env.config,
                                            base_label=base_label, head_label=head_label, allowlisted_env=True,
                                            project=self.env.project or None),
                              progress=progress)
            finally:
                progress.close()
        finally:
            if resume:
                self.workflow.command(resume)
            for path in (venv, tree):
                if path is not None:
                    remove_temp_dir(path)

    def _show(self, report: Report, *, annotate: bool = True) -> None:
        """The report in the log (and as annotations at the files and lines it names)."""
        resume = self._stop_commands()
        render_terminal(report, console_for(sys.stdout))
        self.workflow.command(resume)
        if annotate:
            for item in annotations(report):
                self.workflow.command(self._annotation(item))

    def _summary(self, report: Report, head_sha: str) -> str:
        return self._markdown(report, head_sha, STEP_SUMMARY_LIMIT, "the full JSON report is in the job's "
                              f"`{REPORT_PATH}`")

    def _markdown(self, report: Report, head_sha: str, limit: int, where_full: str, marker: str | None = None) -> str:
        extra = {"marker": marker} if marker else {}
        return fit_markdown(report, limit, shortened_note=f"This summary is shortened to fit GitHub's size "
                            f"limit; {where_full}.", finish=self.redact, file_url=self.env.file_url(head_sha),
                            **extra)

    def _log_failure(self, exc: MigbotError) -> tuple[str, str]:
        """Say that migbot could not run, in the log, an annotation and the step summary; returns the
        redacted message and the hint as a fenced block (empty without one)."""
        message = self.redact(exc.message)
        hint = self.redact(exc.hint) if exc.hint else ""
        resume = self._stop_commands()  # the hint can quote the project's output (an install log)
        print(f"migbot: could not run: {message}" + (f"\n{hint}" if hint else ""), file=sys.stderr, flush=True)
        self.workflow.command(resume)
        self.workflow.error(f"migbot could not run: {message}" + (f"\n{hint}" if hint else ""))
        details = f"\n\n{fenced(hint)}" if hint else ""
        self.workflow.add_summary(f"## Database Task Summary\n\n**migbot could not run:** {inline_text(message)}"
                                  f"{details}\n")
        return message, details

    def _stop_commands(self) -> str:
        opening, resume = stop_commands("")
        self.workflow.command(opening.rstrip("\n"))
        return resume

    def _annotation(self, item: dict) -> str:
        return annotation(item["level"], self.redact(item["message"]), file=item["file"], line=item["line"],
                          title=item["title"])
