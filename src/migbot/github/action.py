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

import os

from migbot.errors import EXIT_OK, MigbotError, UsageError
from migbot.github.bot import DEFAULT_BOT_LOGIN
from migbot.github.checkout import trust_workspace
from migbot.github.env import ActionEnv, restore_secrets, scrub_initial_environment
from migbot.github.events import Ignore, read_trigger
from migbot.github.job import REPORT_PATH
from migbot.github.publish_job import PublishJob
from migbot.github.single_job import SingleJob
from migbot.github.verify_job import VerifyJob
from migbot.github.workflow import Workflow, annotation

__all__ = ["DEFAULT_BOT_LOGIN", "REPORT_PATH", "run_action"]


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
        if mode != "verify" and env.project:
            raise UsageError(f"The project input belongs to `mode: verify`, not `mode: {mode}`: each job of a matrix "
                             "verifies one project, and the publish workflow merges their results into one "
                             "`migbot` status.", hint="See \"Monorepos\" in docs/action.md.")
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
    if mode == "publish":
        return PublishJob(env, workflow).run(trigger)
    return SingleJob(env, workflow).run(trigger)
