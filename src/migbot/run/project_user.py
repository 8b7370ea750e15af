"""The OS user the project's code runs as, when migbot runs as root.

In the Action's container GitHub runs migbot as root. The project's code (env.py, models,
migrations, seeds, the install command) then runs as a dedicated unprivileged user, named by
MIGBOT_PROJECT_USER (the image sets `migbot-project`): it cannot read migbot's memory or
files, or write to the workflow's workspace. Anywhere else (a developer's machine, migbot not
root, the variable unset) the project's code runs as migbot's own user.
"""

from __future__ import annotations

import os
import pwd
import shutil
from dataclasses import dataclass
from pathlib import Path

from migbot.errors import InfraError


@dataclass(frozen=True)
class ProjectUser:
    name: str
    uid: int
    gid: int

    @classmethod
    def configured(cls) -> ProjectUser | None:
        name = os.environ.get("MIGBOT_PROJECT_USER")
        if not name or os.geteuid() != 0:
            return None
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise InfraError(f"MIGBOT_PROJECT_USER names {name}, and there is no such user.") from None
        return cls(name, entry.pw_uid, entry.pw_gid)

    def popen_kwargs(self) -> dict:
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def give(self, path: Path) -> Path:
        """Hand `path` (and everything below it) to this user."""
        os.chown(path, self.uid, self.gid)
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.chown(os.path.join(root, name), self.uid, self.gid, follow_symlinks=False)
        return path

    def home(self, parent: Path) -> Path:
        """A home folder of its own under `parent` (pip's cache, ~/.config)."""
        home = parent / "project-home"
        if home.exists():
            shutil.rmtree(home)
        home.mkdir(mode=0o700)
        return self.give(home)


def run_as_kwargs(user: ProjectUser | None) -> dict:
    """subprocess keyword arguments for the project's code."""
    return user.popen_kwargs() if user is not None else {}
