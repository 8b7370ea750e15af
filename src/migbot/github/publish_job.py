"""`mode: publish`: on workflow_run, read a verify run's artifact as untrusted data and publish it;
this job runs none of the project's code."""

from __future__ import annotations

from migbot.errors import EXIT_INFRA, EXIT_OK, MigbotError
from migbot.github.artifact import ARTIFACT_NAME, RefusedArtifact
from migbot.github.bot import Bot
from migbot.github.collect import collect
from migbot.github.commands import help_text
from migbot.github.events import CommentCommand, VerifyRun
from migbot.report.markdown import inline_text

SPLIT_VERIFY_REPLY = (
    "Here migbot verifies every push to a pull request by itself, a fork's too: a verify workflow runs the "
    "pull request's code with a read-only token, and a second workflow publishes the summary and the "
    "`migbot` status. `/migbot verify` belongs to the single-job setup, so nothing was run. To verify "
    "again, re-run the verify workflow from the pull request's Checks tab, or push a commit.")


class PublishJob(Bot):
    """`mode: publish`: publish a verify run's artifact; answer /migbot commands without running anything."""

    verified_here = False  # the verify job annotated the files, and its exit code follows fail-on

    def run(self, trigger: CommentCommand | VerifyRun) -> int:
        if isinstance(trigger, CommentCommand):
            return self.answer(trigger)
        return self.publish_run(trigger)

    def answer(self, event: CommentCommand) -> int:
        return self._reply_only(event, {"help": lambda: help_text() + f"\n\n{SPLIT_VERIFY_REPLY}",
                                        "verify": lambda: f"@{event.author} {SPLIT_VERIFY_REPLY}"})

    def publish_run(self, run: VerifyRun) -> int:
        """Publish the artifacts of a verify run (one, or one per project of a matrix, merged). Where
        comes from GitHub's event alone: the status goes on the run's head commit, the comment on the
        pull request GitHub links to the run (or, for a fork, the open one whose head is that commit);
        the artifacts must agree, else they are refused."""
        self.run_url = run.html_url or self.run_url  # status and comment link to the run that verified
        sha = run.head_sha
        with self._final_status(sha):
            self._status(sha, "pending", "Publishing the verify run's result…")  # also tells migbot its login
            try:
                results = collect(self.api, run, self._pulls_of(run))
            except RefusedArtifact as exc:
                return self._refuse_artifact(exc, sha)
            except MigbotError as exc:
                return self._could_not_run(exc, sha)
            if not results.parts and results.plan is None:
                return self._no_artifact(run, expired=results.expired)
            report, number, unfinished = results.report, results.number, results.unfinished()
            if report is None and unfinished:  # no job ran: their reasons, as the status says them
                more = f" (and {len(unfinished) - 1} more)" if len(unfinished) > 1 else ""
                return self._settle_error(sha, unfinished[0] + more, f"**migbot could not verify** in the "
                                          f"[verify run]({self.run_url}):\n\n"
                                          + "".join(f"- {inline_text(self.redact(line))}\n" for line in unfinished))
            if report is None:
                return self._nothing_touched(sha)
            where = f"the [verify run]({self.run_url}) of `{sha}`"
            if number is None and run.event == "pull_request":
                where = (f"No open pull request has `{sha}` as its head now (a newer push, or it was closed): "
                         f"migbot set the `migbot` status of {where} only.")
            else:
                where = f"migbot published the result of {where}" + (f" on #{number}." if number else ".")
            return self._publish(report, sha, number, where=where, unfinished=unfinished)

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

    def _nothing_touched(self, sha: str) -> int:
        """A monorepo's plan touched no project, so no job verified anything: that is a pass."""
        status_failed = self._status(sha, "success", "No Alembic project is touched by this change")
        self._settled = True
        self.workflow.add_summary(f"## Database Task Summary\n\nThe plan of the [verify run]({self.run_url}) "
                                  "found no Alembic project that this change touches: nothing to verify.\n")
        self.workflow.set_outputs({"result": "skipped"})
        return EXIT_INFRA if status_failed else EXIT_OK

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
