"""What `mode: single` and `mode: publish` share: the GitHub client and its writes (the `migbot`
status, replies, the sticky summary comments), and publishing a report."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

from migbot.errors import EXIT_CHECKS_FAILED, EXIT_INFRA, EXIT_OK, MigbotError
from migbot.github.api import GitHubAPI, ReadOnlyToken
from migbot.github.artifact import FOLDER, REPORT_FILE, fresh_folder
from migbot.github.commands import (
    commit_pin,
    explain_reply,
    head_moved_reply,
    help_text,
    unknown_reply,
)
from migbot.github.env import ActionEnv
from migbot.github.events import CommentCommand
from migbot.github.job import REPORT_PATH, Job
from migbot.github.publish import (
    STATUS_CONTEXT,
    failing,
    outputs,
    status_line,
    worth_a_comment,
)
from migbot.github.sticky import (
    COMMENT_LIMIT,
    find_comment,
    project_marker,
    upsert_comment,
)
from migbot.github.workflow import Workflow, annotation
from migbot.report.markdown import inline_text
from migbot.report.model import Report

DEFAULT_BOT_LOGIN = "github-actions[bot]"


class Bot(Job):
    """A job that writes to GitHub: `mode: single` (single_job.py) and `mode: publish` (publish_job.py)."""

    # Whether this job verified the report it publishes (single) or publishes a verify job's (publish):
    # only then do its annotations point at the right files and its exit code follow fail-on.
    verified_here = True

    def __init__(self, env: ActionEnv, workflow: Workflow):
        super().__init__(env, workflow)
        self.api = GitHubAPI(env.api_url, env.token, env.repository)
        self.read_only: str | None = None  # why writes stopped, once a write was refused
        self._settled = False  # the final status of this run is set
        self._login: str | None = None  # from GET /user (a personal token), when nothing was learned
        self._told_login = False  # the bot-login input disagrees with the token: said once

    def _reply_only(self, event: CommentCommand, replies: dict[str, Callable[[], str]]) -> int:
        """Answer a command that runs nothing (help, explain): anyone may ask. replies: the job's own."""
        command = event.command
        replies = {"help": help_text, "explain": lambda: explain_reply(command), **replies}
        self._reply(event.number, replies.get(command.name, lambda: unknown_reply(command))())
        self.workflow.set_outputs({"result": "answered"})
        return EXIT_OK

    # --- publishing -------------------------------------------------------------
    def _publish(self, report: Report, head_sha: str, number: int | None,
                 command: CommentCommand | None = None, *, where: str | None = None,
                 unfinished: list[str] | None = None) -> int:
        """Comment, status, step summary and outputs. where: publish mode's note on what it published
        (there the job's exit code does not follow fail-on: the verify job's does). unfinished: the
        projects of a matrix that were not verified, a sentence each; they make the status an error."""
        fails = failing(report, self.env.fail_on)
        result = "error" if unfinished else "fail" if fails else "pass"
        report_path = fresh_folder(self.env.workspace / FOLDER) / REPORT_FILE
        report_path.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
        # A publish job's annotations would point at the default branch's files: the verify job made them.
        self._show(report, annotate=self.verified_here)

        summary = self._summary(report, head_sha)
        self.workflow.set_outputs(outputs(report, result, REPORT_PATH))
        moved = None
        if number is not None and not self.read_only and (command or self.env.comment != "never"):
            # An older run must not replace a newer commit's summary: look right before publishing.
            moved = self._moved_head(number, head_sha)
            if moved is None:
                moved = self._comments(report, number, head_sha)
        if moved is not None:
            self._left_for_newer(head_sha, moved, command)
        # Statuses are per commit: this one goes on the verified commit, whatever the head is now.
        state, description = status_line(report)
        if unfinished:
            more = f" (and {len(unfinished) - 1} more)" if len(unfinished) > 1 else ""
            state, description = "error", f"{unfinished[0]}{more}; {description[:1].lower()}{description[1:]}"
        status_failed = self._status(head_sha, state, description)
        self._settled = True
        notes = [inline_text(self.redact(text)) for text in unfinished or []]
        notes += [text for text in (where, self.read_only, self._moved_note(head_sha, moved)) if text]
        self.workflow.add_summary("".join(f"> [!NOTE]\n> {text}\n\n" for text in notes) + summary)
        if self.read_only:
            self.workflow.warning(self.read_only)
        if status_failed:
            return EXIT_INFRA
        return EXIT_CHECKS_FAILED if fails and self.verified_here else EXIT_OK

    def _comments(self, report: Report, number: int, head_sha: str) -> str | None:
        """Publish each project's summary; returns the new head when it moved before a write (the
        rest are then left alone), else None."""
        if self.env.comment == "never" or self.read_only:
            return None
        for project in report.projects:
            marker = project_marker(project.alembic_ini)
            try:
                existing = find_comment(self.api, number, marker, self.bot_login)
                if existing is None and self.env.comment == "changes" and not worth_a_comment(project):
                    self.workflow.echo(f"migbot: no comment for {project.alembic_ini}: the pull request changes no revision "
                          "files and every check passed.")
                    continue
                body = self._markdown(report.for_project(project), head_sha, COMMENT_LIMIT,
                                      f"the full report is in [the run's summary]({self.run_url})", marker)
                moved = self._moved_head(number, head_sha)  # again, right before this write
                if moved is not None:
                    return moved
                done = upsert_comment(self.api, number, marker, self.bot_login, body, existing)
                self.workflow.echo(f"migbot: Database Task Summary comment for {project.alembic_ini}: {done}.")
            except ReadOnlyToken as exc:
                self._refused(exc)
                return None
            except MigbotError as exc:
                self.workflow.warning(self.redact(f"Could not publish the summary comment: {exc.message}"))
        return None

    def _moved_head(self, number: int, verified: str) -> str | None:
        """The pull request's head now, when it is no longer the verified commit; else None.

        When GitHub does not say, the summary is not touched either: skipping an edit never hides
        a newer result, while an edit could."""
        try:
            head = self.api.pull(number).head_sha
        except MigbotError as exc:
            self.workflow.warning(self.redact(f"migbot could not read pull request #{number} again "
                                              f"({exc.message}), so it leaves the summary comment as it is."))
            return ""  # moved, as far as migbot can tell
        return None if head == verified else head

    def _left_for_newer(self, verified: str, head: str, command: CommentCommand | None) -> None:
        print(f"migbot: the pull request's head is now {head or 'unknown'}, not the verified {verified}: the "
              "summary comment is left for the newer commit; the status goes on the verified commit only.")
        if command is not None:
            pinned = commit_pin(command.command.args) is not None
            self._reply(command.number, f"@{command.author} " + head_moved_reply(
                verified, head, pinned=pinned, ran=True) + f" The result for `{verified}` is in "
                f"[the run's summary]({self.run_url}).")

    @staticmethod
    def _moved_note(verified: str, head: str | None) -> str | None:
        if head is None:
            return None
        now = f"moved to `{head}`" if head else "could not be read again"
        return (f"The pull request's head {now} while migbot verified `{verified}`: this summary "
                "was not posted to the pull request, so that it cannot replace a newer one, and the `migbot` "
                f"status is set on `{verified}` only.")

    def _could_not_run(self, exc: MigbotError, head_sha: str | None, reply_to: int | None = None) -> int:
        message, details = self._log_failure(exc)
        if head_sha is not None:
            self._status(head_sha, "error", f"Could not run: {message.splitlines()[0]}")
            self._settled = True
        if reply_to is not None:
            self._reply(reply_to, f"migbot could not run: {inline_text(message)}{details}")
        self.workflow.set_outputs({"result": "error"})
        return exc.exit_code

    @contextmanager
    def _final_status(self, sha: str):
        """A pending status must never outlive the run: a crash, a cancelled job or a bug ends it as error."""
        self._settled = False
        try:
            yield
        except BaseException as exc:
            if not self._settled:
                what = "cancelled" if isinstance(exc, KeyboardInterrupt) else "stopped by an internal error"
                try:
                    self._status(sha, "error", f"migbot was {what}; see the run's log")
                except Exception:  # noqa: BLE001, S110 - the original error is the one to report
                    pass
            raise

    # --- writes -----------------------------------------------------------------
    @property
    def bot_login(self) -> str:
        """Whose comment is ours: first the login GitHub answered this run's own writes with (the
        pending status comes before any comment); else the bot-login input; else GET /user, which
        installation tokens (ghs_: github.token, App tokens) cannot read; else github.token's
        github-actions[bot]. GET /app, an App's slug, answers only the App's JWT, never a token."""
        learned, configured = self.api.actor, self.env.bot_login
        if learned:
            if configured and configured.lower() != learned.lower() and not self._told_login:
                self._told_login = True
                self.workflow.warning(f"The bot-login input is {configured}, but this token writes as {learned}: "
                                      f"migbot looks for {learned}'s comment. Fix or remove bot-login.")
            return learned
        if configured:
            return configured
        if self._login is None:
            installation = self.env.token.startswith("ghs_")
            self._login = (None if installation else self.api.login()) or DEFAULT_BOT_LOGIN
        return self._login

    def _status(self, sha: str, state: str, description: str) -> bool:
        """Set the commit status; True when GitHub would not take it (said as an error annotation)."""
        return not self._write(lambda: self.api.set_status(sha, state, self.redact(description),
                                                           self.run_url or None, STATUS_CONTEXT),
                               what=f"set the {STATUS_CONTEXT} status", level="error")

    def _reply(self, number: int, body: str) -> None:
        self._write(lambda: self.api.create_comment(number, self.redact(body)), what="reply")

    def _write(self, call, *, what: str, level: str = "warning") -> bool:
        """A write that may be refused (read-only token: skip the rest) or fail (say so, go on)."""
        if self.read_only:
            return True
        try:
            call()
            return True
        except ReadOnlyToken as exc:
            self._refused(exc)
            return True
        except MigbotError as exc:
            self.workflow.command(annotation(level, self.redact(f"migbot could not {what}: {exc.message}")))
            return False

    def _refused(self, exc: ReadOnlyToken) -> None:
        self.read_only = (f"{self.redact(exc.message)} The summary is in this step summary and the job log "
                          f"instead. {exc.hint}")
