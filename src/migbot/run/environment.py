"""The environment the project's code starts with.

Run from a terminal, migbot hands the project's code the developer's environment (less
migbot's own MIGBOT_* settings): env.py may read what the developer exported. In the Action
(and wherever the caller asks), the project's code gets an allowlisted environment instead:
a job-level `env:` secret, the runner's tokens and anything else in migbot's environment never
reach it. The worker then adds the configured `env` table and migbot's database placeholders.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# What any program needs to run, and nothing that identifies the job or holds a credential.
BASICS = ("PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ", "TMPDIR", "TERM",
          "VIRTUAL_ENV", "PYTHONIOENCODING", "PYTHONUTF8", "SSL_CERT_FILE", "SSL_CERT_DIR")
# What a package installer reads besides: its own settings, and how to reach an index.
INSTALLER_PREFIXES = ("PIP_", "UV_", "POETRY_", "PDM_")
INSTALLER_NAMES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
                   "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def inherited(source: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The developer's own environment, less migbot's settings and an interactive start-up file."""
    return {k: v for k, v in source.items() if not k.startswith("MIGBOT_") and k != "PYTHONSTARTUP"}


def allowlisted(source: Mapping[str, str] = os.environ, *, installer: bool = False) -> dict[str, str]:
    """Only the basics (and, for an install command, the installer's settings)."""
    return {k: v for k, v in source.items()
            if k in BASICS or (installer and (k in INSTALLER_NAMES or k.startswith(INSTALLER_PREFIXES)))}
