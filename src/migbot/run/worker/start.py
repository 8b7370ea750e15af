"""Starts migbot's worker in the project's interpreter: `python start.py`.

Python put this script's folder first on sys.path; move it last, so that nothing here
can shadow the project's own modules, while `migbot_worker` stays importable.
"""

import sys

sys.path.append(sys.path.pop(0))

from migbot_worker.main import main  # noqa: E402

main()
