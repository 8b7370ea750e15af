"""What the GitHub side adds: `migbot action` on a pull_request event vs `migbot verify` of the same change.

    .venv/bin/python bench/action.py               # 5 runs each, alternating
    .venv/bin/python bench/action.py --repeats 9

The change is the test suite's "add an orders table" pull request on the fixture service.
`migbot action` runs against the tests' fake GitHub API (tests/fakegithub, every request
validated against GitHub's OpenAPI description) and publishes what it does on GitHub: a
pending status, the comment (created on the first run, edited on the next), the final
status, annotations, step summary and outputs. `migbot verify` writes the JSON report only.
Both are timed from process start to exit; prints medians, min/max and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from action_harness import Scenario  # noqa: E402
from fakegithub import FakeGitHub  # noqa: E402
from test_verify_passes import add_orders  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"action": [], "verify": []}
    with tempfile.TemporaryDirectory(prefix="migbot-bench-action-") as tmp, FakeGitHub() as fake:
        scenario = Scenario(Path(tmp), fake)
        add_orders(scenario.repo)
        scenario.open_pull()
        workspace = scenario.checkout("refs/pull/7/head")
        payload = scenario.event("pull_request/synchronize.payload.json")
        report = Path(tmp) / "report.json"
        verify = [sys.executable, "-m", "migbot", "verify", "--repo", str(workspace), "--base", scenario.base,
                  "--head", scenario.head, "--quiet", "--format", "json", "--output", str(report)]
        scenario.run("pull_request", payload, workspace)  # warm-up: cluster cache, __pycache__
        for i in range(args.repeats):
            for which in (("action", "verify") if i % 2 == 0 else ("verify", "action")):
                started = time.perf_counter()
                if which == "action":
                    run = scenario.run("pull_request", payload, workspace)
                    assert run.exit_code == 0, run.log
                else:
                    subprocess.run(verify, check=True, capture_output=True)
                times[which].append(time.perf_counter() - started)
        fake.assert_no_violations()
    action, verify_s = statistics.median(times["action"]), statistics.median(times["verify"])
    print(f"| | median s | min–max s |\n| --- | ---: | ---: |")
    for name, values in times.items():
        print(f"| migbot {name} | {statistics.median(values):.2f} | {min(values):.2f}–{max(values):.2f} |")
    print(f"\naction / verify: {action / verify_s:.2f}× ({args.repeats} runs each)")


if __name__ == "__main__":
    main()
