"""Where the shared reference data lives: GitHub's OpenAPI description and real webhook payloads.

It sits beside the project as ../shared. A clone elsewhere (a temp dir for a CI run) finds it
through MIGBOT_SHARED_DIR, or at /work/shared where these machines keep it.
"""

from __future__ import annotations

import os
from pathlib import Path

_CANDIDATES = [
    *([Path(os.environ["MIGBOT_SHARED_DIR"])] if os.environ.get("MIGBOT_SHARED_DIR") else []),
    Path(__file__).resolve().parents[2] / "shared",
    Path("/work/shared"),
]


def shared_dir() -> Path:
    for candidate in _CANDIDATES:
        if (candidate / "github").is_dir():
            return candidate
    raise FileNotFoundError("The shared reference data (github/openapi, github/webhooks) is not at any of "
                            + ", ".join(map(str, _CANDIDATES)) + "; set MIGBOT_SHARED_DIR to its folder.")


WEBHOOKS = shared_dir() / "github" / "webhooks"
OPENAPI = shared_dir() / "github" / "openapi" / "api.github.com.json.gz"
