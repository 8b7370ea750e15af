"""`migbot action`: decide what the event asks, run the engine, publish its report.

The Action adds no checks of its own. Three modes (the `mode` input):

- `single`: one job verifies and publishes, so the pull request's code runs beside a write token;
- `verify`: runs the pull request's code and makes no call to GitHub at all; the result goes to a
  folder the workflow uploads as an artifact (artifact.py);
- `publish`: on workflow_run, reads that artifact as untrusted data and publishes it; it runs none
  of the project's code.

Writes to GitHub happen only for a pull request event migbot verifies (single), a finished verify
run (publish), or a /migbot command on a pull request; anything else ends here with a log line
and no API call at all.
"""

from __future__ import annotations

import base64
import os
import sys
from contextlib import contextmanager

from migbot.discover.git import GitRepo
from migbot.errors import (
    EXIT_CHECKS_FAILED,
    EXIT_INFRA,
    EXIT_OK,
    MigbotError,
    UsageError,
)
from migbot.github.api import GitHubAPI, ReadOnlyToken
from migbot.github.artifact import (
    ARTIFACT_NAME,
    FOLDER,
    MAX_ARTIFACT_BYTES,
    REPORT_FILE,
    PublishRequest,
    RefusedArtifact,
    error_line,
    fresh_folder,
    read_artifact,
    write_folder,
)
from migbot.github.checkout import (
    fetch_pull,
    require_commits,
    restored_checkout,
    trust_workspace,
)
from migbot.github.commands import (
    commit_pin,
    explain_reply,
    head_moved_reply,
    help_text,
    pinned_commit_problem,
    unknown_reply,
)
from migbot.github.env import (
    ActionEnv,
    restore_secrets,
    scrub_initial_environment,
)
from migbot.github.events import (
    CommentCommand,
    Ignore,
    PullRequest,
    VerifyCommits,
    VerifyPull,
    VerifyRun,
    read_trigger,
)
from migbot.github.install import install_project
from migbot.github.publish import (
    STATUS_CONTEXT,
    annotations,
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

DEFAULT_BOT_LOGIN = "github-actions[bot]"
REPORT_PATH = f"{FOLDER}/report.json"  # relative to the workspace, so later steps can upload it
SPLIT_VERIFY_REPLY = (
    "Here migbot verifies every push to a pull request by itself, a fork's too: a verify workflow runs the "
    "pull request's code with a read-only token, and a second workflow publishes the summary and the "
    "`migbot` status. `/migbot verify` belongs to the single-job setup, so nothing was run. To verify "
    "again, re-run the verify workflow from the pull request's Checks tab, or push a commit.")


def run_action(environ=os.environ) -> int:
    scrub_initial_environment(environ)  # re-executes migbot once, without the secrets
    restore_secrets(environ)
    trust_workspace(environ)
    try:
        env = ActionEnv.from_environ(environ)
        mode = env.mode
        trigger = read_trigger(env.event_name, env.event, env.repository, mode)
        if mode == "publish" and env.install:
            raise UsageError("`mode: publish` runs none of the project's code, so it takes no install command.",
                             hint="Move `install:` to the verify workflow's migbot step.")
    except MigbotError as exc:  # said once, as an annotation the run's page shows
        print(annotation("error", f"migbot: {exc.message}" + (f"\n{exc.hint}" if exc.hint else "")))
        return exc.exit_code
    workflow = Workflow(env.output_path, env.summary_path)
    if isinstance(trigger, Ignore):
        print(f"migbot: nothing to do: {trigger.reason}.")
        workflow.set_outputs({"result": "skipped"})
        return EXIT_OK
    if mode == "verify":  # no GitHub client at all: this job cannot write, whatever its token may do
        return VerifyJob(env, workflow).run(trigger)
    bot = Bot(env, workflow, split=mode == "publish")
    if isinstance(trigger, CommentCommand):
        return bot.answer(trigger)
    if isinstance(trigger, VerifyRun):
        return bot.publish_run(trigger)
    if isinstance(trigger, VerifyPull):
        return bot.verify_pull(trigger.pull)
    return bot.verify_commits(trigger)


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
                GitRepo(self.env.workspace).export_tree(head, tree / "tree", tree / "index")
                os.environ["VIRTUAL_ENV"] = str(install_project(self.env.install, tree / "tree", venv,
                                                                self.workflow))
            # A line of the project's output that looks like a workflow command must not be obeyed.
            resume = self._stop_commands()
            progress = TerminalProgress(stream=sys.stdout)
            try:
                return verify(VerifyOptions(repo=self.env.workspace, base=base, head=head,
                                            database_url=self.env.database_url, config_in_repo=self.env.config,
                                            base_label=base_label, head_label=head_label, allowlisted_env=True),
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


class VerifyJob(Job):
    """`mode: verify`: the pull request's code runs here, with a read-only token and no secrets.

    It holds no GitHub client: the result goes to the log, annotations, the step summary, and
    the folder the workflow uploads for the publish job (the report and a publish request)."""

    def run(self, trigger: VerifyPull | VerifyCommits) -> int:
        if isinstance(trigger, VerifyPull):
            pull = trigger.pull
            what = {"event": "pull_request", "pull_request": pull.number}
            base, head, labels = pull.base_sha, pull.head_sha, (pull.base_ref, pull.head_ref)
        else:
            what = {"event": "merge_group", "pull_request": None}
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
        note = (f"migbot ran as `mode: verify`, with no write access: the publish workflow posts this summary "
                f"and sets the `migbot` status from the `{ARTIFACT_NAME}` artifact of this run.")
        self.workflow.add_summary(f"> [!NOTE]\n> {note}\n\n" + self._summary(report, head))
        self.workflow.echo(f"migbot: wrote {FOLDER}/ for the publish workflow (upload it as the "
                           f"`{ARTIFACT_NAME}` artifact).")
        return EXIT_CHECKS_FAILED if fails else EXIT_OK


class Bot(Job):
    """`mode: single` (verify and publish in one job) and `mode: publish` (a verify run's artifact)."""

    def __init__(self, env: ActionEnv, workflow: Workflow, *, split: bool = False):
        super().__init__(env, workflow)
        self.split = split  # mode: publish
        self.api = GitHubAPI(env.api_url, env.token, env.repository)
        self.read_only: str | None = None  # why writes stopped, once a write was refused
        self._settled = False  # the final status of this run is set
        self._login: str | None = None  # from GET /user (a personal token), when nothing was learned
        self._told_login = False  # the bot-login input disagrees with the token: said once

    # --- comment commands -------------------------------------------------------
    def answer(self, event: CommentCommand) -> int:
        command = event.command
        if command.name != "verify" or self.split:  # help and explain run nothing: anyone may ask
            replies = {"help": lambda: help_text() + (f"\n\n{SPLIT_VERIFY_REPLY}" if self.split else ""),
                       "explain": lambda: explain_reply(command),
                       "verify": lambda: f"@{event.author} {SPLIT_VERIFY_REPLY}"}
            self._reply(event.number, replies.get(command.name, lambda: unknown_reply(command))())
            self.workflow.set_outputs({"result": "answered"})
            return EXIT_OK
        try:
            allowed = self.api.can_write(event.author)
            if not allowed:
                self.workflow.echo(f"migbot: @{event.author} has no write access; `{command.text}` is refused.")
                self._reply(event.number, f"@{event.author} Sorry, only people with write access to this "
                            "repository can run `/migbot verify`, because it runs this pull request's code. "
                            "A maintainer can run it for you.")
                self.workflow.set_outputs({"result": "refused"})
                return EXIT_OK
            self._write(lambda: self.api.react(event.number, event.comment_id, "eyes"), what="react")
            pull = self.api.pull(event.number)
        except MigbotError as exc:
            return self._could_not_run(exc, None, reply_to=event.number)
        refusal = pinned_commit_problem(pull, command.args)
        if refusal:
            return self._refuse(event, refusal)
        sha = pull.head_sha  # the pinned commit, exactly, or a same-repository branch's head as of now
        with restored_checkout(self.env.workspace):
            try:
                fetch_pull(self.env.workspace, pull.number, pull.base_ref, sha, self.env.token, self.env.server_url)
                # Right before the pull request's code runs: a push since the look above (the author's,
                # after the writer's comment) stops the run; the fetched commit is still `sha` itself.
                now = self.api.pull(event.number).head_sha
            except MigbotError as exc:
                return self._could_not_run(exc, sha, reply_to=event.number)
            if now != sha:
                print(f"migbot: the head moved from {sha} to {now} before the run; nothing was run.")
                pinned = commit_pin(command.args) is not None
                return self._refuse(event, head_moved_reply(sha, now, pinned=pinned, ran=False))
            where = "the fork's commit" if pull.fork else "commit"
            return self.verify_pull(pull, note=f"Verified at @{event.author}'s request (`{command.text}`) "
                                    f"on {where} `{sha}`.", command=event)

    def _refuse(self, event: CommentCommand, why: str) -> int:
        self._reply(event.number, f"@{event.author} {why}")
        self.workflow.set_outputs({"result": "refused"})
        return EXIT_OK

    # --- verification -----------------------------------------------------------
    def verify_pull(self, pull: PullRequest, *, note: str | None = None,
                    command: CommentCommand | None = None) -> int:
        reply_to = command.number if command else None
        with self._final_status(pull.head_sha):
            self._status(pull.head_sha, "pending", "Verifying the migrations…")
            if self.read_only and pull.fork:
                self.read_only = ("This pull request comes from a fork, so the workflow's token is read-only: "
                                  "migbot verified it but cannot comment or set the `migbot` status. A maintainer "
                                  f"can comment `/migbot verify {pull.head_sha}` after reviewing this commit "
                                  "to publish the summary and the status (again after every push). migbot's "
                                  "two-workflow setup (`mode: verify` and `mode: publish`) publishes them by itself.")
            try:
                require_commits(self.env.workspace, {"base": pull.base_sha, "head": pull.head_sha})
                report = self._verify(pull.base_sha, pull.head_sha, pull.base_ref, pull.head_ref)
            except MigbotError as exc:
                return self._could_not_run(exc, pull.head_sha, reply_to=reply_to)
            if note:
                report.notes.insert(0, note)
            return self._publish(report, pull.head_sha, pull.number, command)

    def verify_commits(self, group: VerifyCommits) -> int:
        with self._final_status(group.head_sha):
            self._status(group.head_sha, "pending", "Verifying the migrations…")
            try:
                require_commits(self.env.workspace, {"base": group.base_sha, "head": group.head_sha})
                report = self._verify(group.base_sha, group.head_sha, group.base_sha[:12], group.head_ref)
            except MigbotError as exc:
                return self._could_not_run(exc, group.head_sha)
            return self._publish(report, group.head_sha, None)

    # --- publish mode: a finished verify run ----------------------------------------
    def publish_run(self, run: VerifyRun) -> int:
        """Publish the artifact of a verify run. Where comes from GitHub's event alone: the status goes
        on the run's head commit, the comment on the pull request GitHub links to the run (or, for a
        fork, the open one whose head is that commit); the artifact must agree, else it is refused."""
        self.run_url = run.html_url or self.run_url  # status and comment link to the run that verified
        sha = run.head_sha
        with self._final_status(sha):
            self._status(sha, "pending", "Publishing the verify run's result…")  # also tells migbot its login
            try:
                candidates = self._pulls_of(run)
                listed = self.api.run_artifacts(run.run_id, ARTIFACT_NAME)
                artifacts = [a for a in listed if not a.expired]
                if not artifacts:
                    return self._no_artifact(run, expired=bool(listed))
                artifact = max(artifacts, key=lambda a: a.id)  # a re-run's replaces the first attempt's
                if artifact.size > MAX_ARTIFACT_BYTES:
                    raise RefusedArtifact(f"the artifact is larger than {MAX_ARTIFACT_BYTES // (1024 * 1024)} MiB")
                request, report = read_artifact(self.api.download_artifact(artifact.id, MAX_ARTIFACT_BYTES))
                number = self._check_request(request, run, candidates)
            except RefusedArtifact as exc:
                return self._refuse_artifact(exc, sha)
            except MigbotError as exc:
                return self._could_not_run(exc, sha)
            if report is None:  # the verify job could not run: its reason, as the status says it
                why = error_line(request)
                return self._settle_error(sha, f"Could not run: {why}", f"**migbot could not run** in the "
                                          f"[verify run]({self.run_url}): {inline_text(self.redact(why))}")
            where = f"the [verify run]({self.run_url}) of `{sha}`"
            if number is None and run.event == "pull_request":
                where = (f"No open pull request has `{sha}` as its head now (a newer push, or it was closed): "
                         f"migbot set the `migbot` status of {where} only.")
            else:
                where = f"migbot published the result of {where}" + (f" on #{number}." if number else ".")
            return self._publish(report, sha, number, where=where)

    def _pulls_of(self, run: VerifyRun) -> list[int]:
        """The pull requests a verify run was for, as GitHub tells: the run's own list, or for a fork's
        branch (GitHub lists none) the open pull requests from that branch whose head is the run's."""
        if run.event != "pull_request":
            return []
        if run.pull_numbers:
            return run.pull_numbers
        if not (run.head_owner and run.head_branch):
            return []
        pulls = self.api.open_pulls_with_head(f"{run.head_owner}:{run.head_branch}")
        return sorted(p.number for p in pulls if p.head_sha == run.head_sha)

    @staticmethod
    def _check_request(request: PublishRequest, run: VerifyRun, candidates: list[int]) -> int | None:
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

    def _no_artifact(self, run: VerifyRun, *, expired: bool = False) -> int:
        if expired:
            return self._settle_error(run.head_sha, "The verify run's result has expired; re-run it",
                                      f"The `{ARTIFACT_NAME}` artifact of the [verify run]({self.run_url}) has "
                                      "expired: re-run that run to publish its result.")
        if run.conclusion == "action_required":  # a first-time contributor's run, waiting for a maintainer
            return self._settle_error(run.head_sha, "The verify run waits for a maintainer's approval",
                                      f"The [verify run]({self.run_url}) waits for a maintainer to approve running "
                                      "this pull request's workflows; it publishes once it has run.",
                                      state="pending")
        how = run.conclusion or "unfinished"
        print(f"migbot: the verify run {run.html_url} ended {how} and left no `{ARTIFACT_NAME}` artifact.")
        return self._settle_error(run.head_sha, f"The verify run ended {how} without a result",
                                  f"The [verify run]({self.run_url}) ended `{how}` and left no `{ARTIFACT_NAME}` "
                                  "artifact (cancelled, crashed, or its upload step did not run), so there is "
                                  "nothing to publish.")

    def _refuse_artifact(self, exc: RefusedArtifact, sha: str) -> int:
        message = self.redact(exc.message)
        self.workflow.error(f"migbot refused the verify run's artifact: {message}")
        code = self._settle_error(sha, f"Refused the verify run's artifact: {message}",
                                  f"migbot refused the artifact of the [verify run]({self.run_url}): "
                                  f"{inline_text(message)}. Nothing from it was published.")
        return code or exc.exit_code

    def _settle_error(self, sha: str, description: str, summary: str, *, state: str = "error") -> int:
        """End the run with an error status (or another state that is not a verdict); exit 0 when
        GitHub took it (the status says what happened)."""
        status_failed = self._status(sha, state, description)
        self._settled = True
        self.workflow.add_summary(f"## Database Task Summary\n\n{summary}\n")
        self.workflow.set_outputs({"result": "error"})
        return EXIT_INFRA if status_failed else EXIT_OK

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
                except Exception:  # noqa: BLE001 - the original error is the one to report
                    pass
            raise

    # --- publishing -------------------------------------------------------------
    def _publish(self, report: Report, head_sha: str, number: int | None,
                 command: CommentCommand | None = None, *, where: str | None = None) -> int:
        """Comment, status, step summary and outputs. where: publish mode's note on what it published
        (there the job's exit code does not follow fail-on: the verify job's does)."""
        fails = failing(report, self.env.fail_on)
        result = "fail" if fails else "pass"
        report_path = fresh_folder(self.env.workspace / FOLDER) / REPORT_FILE
        report_path.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
        # A publish job's annotations would point at the default branch's files: the verify job made them.
        self._show(report, annotate=not self.split)

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
        status_failed = self._status(head_sha, state, description)
        self._settled = True
        notes = [text for text in (where, self.read_only, self._moved_note(head_sha, moved)) if text]
        self.workflow.add_summary("".join(f"> [!NOTE]\n> {text}\n\n" for text in notes) + summary)
        if self.read_only:
            self.workflow.warning(self.read_only)
        if status_failed:
            return EXIT_INFRA
        return EXIT_CHECKS_FAILED if fails and not self.split else EXIT_OK

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
