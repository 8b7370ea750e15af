"""What the Action's container costs: `migbot verify` of the demo change on this machine vs in the image.

    .venv/bin/python bench/container.py               # 5 runs each, alternating
    .venv/bin/python bench/container.py --repeats 9

The change is examples/demo.py's pull request (feature/orders against main). On the host, migbot
runs from this checkout's venv. In the container it runs in the image built from the Dockerfile
(tests/container.py builds it with podman, as the container tests do), started the way GitHub's
runner starts a Docker action: `podman run` as root, the workspace owned by the runner's user and
mounted at /github/workspace, an empty /github/home, and a 64 MB /dev/shm (Docker's default: the
runner passes no --shm-size). Each run is timed from the command's start to its exit, so the
container's figure includes starting and removing it. Prints a Markdown table of medians, min/max,
and the ratio, plus the image's size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from container import (
    IMAGE,
    build_image,
    image_size,
    make_demo_workspace,
    run_like_runner,
)

GITHUB_SHM = ["--shm-size=64m"]
SAFE_WORKSPACE = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory",
                  "GIT_CONFIG_VALUE_0": "/github/workspace"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    image = build_image(IMAGE).image
    with tempfile.TemporaryDirectory(prefix="migbot-bench-container-") as tmp:
        host_repo = make_demo_workspace(Path(tmp, "host"), owner_uid=None)
        workspace = make_demo_workspace(Path(tmp, "runner"))
        host = [sys.executable, "-m", "migbot", "verify", "--repo", str(host_repo), "--base", "main", "--quiet",
                "--format", "json"]
        verify = ["verify", "--repo", "/github/workspace", "--base", "main", "--quiet", "--format", "json"]

        def run(which: str) -> tuple[float, float]:
            """(wall seconds, migbot's own `seconds` from its report)."""
            started = time.perf_counter()
            if which == "host":
                out = subprocess.run(host, check=True, capture_output=True, text=True).stdout
            elif which == "container":
                result = run_like_runner(image, workspace, event_name="pull_request", event_payload={},
                                         env=SAFE_WORKSPACE, entrypoint="migbot", entrypoint_args=verify,
                                         podman_args=GITHUB_SHM)
                assert result.exit_code == 0, result.stderr
                out = result.stdout
            else:  # the container's own start and removal, with Python starting in it
                result = run_like_runner(image, workspace, event_name="pull_request", event_payload={},
                                         entrypoint="python3", entrypoint_args=["-c", "pass"], podman_args=GITHUB_SHM)
                assert result.exit_code == 0, result.stderr
                return time.perf_counter() - started, 0.0
            return time.perf_counter() - started, json.loads(out)["seconds"]

        kinds = ("host", "container", "empty container")
        times: dict[str, list[tuple[float, float]]] = {kind: [] for kind in kinds}
        for kind in kinds:  # warm-up: the host's cluster cache, __pycache__, the page cache
            run(kind)
        for i in range(args.repeats):
            for which in (kinds if i % 2 == 0 else tuple(reversed(kinds))):
                times[which].append(run(which))
    print("| migbot verify, demo change | wall, median s | min–max s | verify() (report `seconds`), median s |\n"
          "| --- | ---: | ---: | ---: |")
    for name, values in times.items():
        walls = [w for w, _ in values]
        own = f"{statistics.median(s for _, s in values):.2f}" if name != "empty container" else "–"
        print(f"| {name} | {statistics.median(walls):.2f} | {min(walls):.2f}–{max(walls):.2f} | {own} |")
    wall = {k: statistics.median(w for w, _ in v) for k, v in times.items()}
    own = {k: statistics.median(s for _, s in v) for k, v in times.items()}
    print(f"\ncontainer / host: {wall['container'] / wall['host']:.2f}× wall, "
          f"{(wall['container'] - wall['empty container']) / wall['host']:.2f}× without the container's own start "
          f"and removal, {own['container'] / own['host']:.2f}× in verify() ({args.repeats} runs each); "
          f"image {image_size(image) / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
