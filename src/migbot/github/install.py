"""The action's `install` input: the project's own dependencies, in a virtualenv of their own.

env.py imports the app, so its dependencies must be installed where migbot's workers run.
They go into a fresh virtualenv (never into migbot's own environment, whose pins they could
break); VIRTUAL_ENV then tells migbot which interpreter runs the project's code. A command
that builds the repository's own .venv (`uv sync`, `poetry install` in-project) is honoured.
The command runs in an export of the commit to verify: the pull request's code never writes
into the workflow's workspace, whose `.git` later steps (holding the token) use.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from migbot.errors import InfraError
from migbot.github.workflow import Workflow
from migbot.run.environment import allowlisted
from migbot.run.project_user import ProjectUser, run_as_kwargs

LOG_TAIL = 20


def install_project(command: str, tree: Path, venv: Path, workflow: Workflow) -> Path:
    """Runs the install command in `tree` (an export of the commit to verify, never the
    workflow's workspace, which later steps trust), with an allowlisted environment; returns
    the virtualenv the project's code should run in."""
    user = ProjectUser.configured()  # migbot is root (the Action's container): install as the project's user
    env = {**allowlisted(installer=True), "VIRTUAL_ENV": str(venv),
           "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    if user is not None:
        user.give(tree)
        user.give(venv)
        env["HOME"] = env["TMPDIR"] = str(user.home(tree.parent))
    created = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True, check=False,
                             env=env, **run_as_kwargs(user))
    if created.returncode != 0:
        raise InfraError(f"Could not create a virtualenv for the project: {created.stderr.strip()}")
    result = subprocess.run(["bash", "-e", "-c", command], cwd=tree, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace", check=False, **run_as_kwargs(user))
    workflow.group(f"install: {command}", result.stdout or "(no output)")
    if result.returncode != 0:
        tail = "\n".join(result.stdout.rstrip().splitlines()[-LOG_TAIL:])
        raise InfraError(f"The install command failed with exit code {result.returncode}: {command}",
                         hint=f"Its last lines:\n{tail}" if tail else None)
    in_repo = tree / ".venv"
    return in_repo if (in_repo / "bin" / "python").exists() else venv
