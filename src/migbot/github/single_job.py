"""`mode: single`: one job verifies the pull request (or merge queue commits) and publishes the
result, so the pull request's code runs beside a write token; it also runs `/migbot verify`."""

from __future__ import annotations

from migbot.errors import EXIT_OK, MigbotError
from migbot.github.bot import Bot
from migbot.github.checkout import fetch_pull, require_commits, restored_checkout
from migbot.github.commands import commit_pin, head_moved_reply, pinned_commit_problem
from migbot.github.events import CommentCommand, PullRequest, VerifyCommits, VerifyPull


class SingleJob(Bot):
    """`mode: single`: verify and publish in one job."""

    def run(self, trigger: CommentCommand | VerifyPull | VerifyCommits) -> int:
        if isinstance(trigger, CommentCommand):
            return self.answer(trigger)
        if isinstance(trigger, VerifyPull):
            return self.verify_pull(trigger.pull)
        return self.verify_commits(trigger)

    # --- comment commands -------------------------------------------------------
    def answer(self, event: CommentCommand) -> int:
        command = event.command
        if command.name != "verify":  # help and explain run nothing: anyone may ask
            return self._reply_only(event, {})
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
