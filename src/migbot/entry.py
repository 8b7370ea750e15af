"""The `migbot` command's entry point. It imports the command line only once a Ctrl-C during
start-up can be answered with a line, not with a traceback of the imports it interrupted."""

from __future__ import annotations

import sys


def run() -> None:
    try:
        from migbot.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("migbot: interrupted while starting; nothing was started.\n")
        raise SystemExit(130) from None
    raise SystemExit(main())
