"""action.yml and the workflows: valid against GitHub's schemas, and in step with the code."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


@pytest.mark.parametrize("schema,files", [
    ("vendor.github-actions", ["action.yml"]),
    ("vendor.github-workflows", sorted(str(p.relative_to(ROOT)) for p in (ROOT / ".github/workflows").glob("*.yml"))),
])
def test_valid_against_githubs_schemas(schema, files):
    assert files
    result = subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", schema, *files], check=False, cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_input_is_read_and_every_read_input_is_declared():
    declared = set(yaml.safe_load((ROOT / "action.yml").read_text())["inputs"])
    source = (ROOT / "src/migbot/github/env.py").read_text()
    read = set(re.findall(r'_(?:input|choice)\(environ, "([a-z-]+)"', source))
    assert declared == read


def test_outputs_are_the_declared_ones():
    from migbot.github.publish import outputs
    from migbot.report.model import Report

    report = Report.model_validate({
        "migbot_version": "0", "result": "pass", "database": "db", "started_at": "2026-01-01T00:00:00Z",
        "seconds": 1, "counts": {}, "projects": [],
        "refs": {"base_ref": "main", "base": "a", "merge_base": "a", "head_ref": "f", "head": "b"}})
    declared = set(yaml.safe_load((ROOT / "action.yml").read_text())["outputs"])
    assert set(outputs(report, "pass", ".migbot/report.json")) == declared


def test_the_example_workflow_grants_the_least_permissions():
    workflow = yaml.safe_load((ROOT / ".github/workflows/migbot-example.yml").read_text())
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write", "statuses": "write"}
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert set(triggers) == {"pull_request", "issue_comment", "merge_group"}
    [(job_id, job)] = workflow["jobs"].items()
    assert job_id != "migbot"  # its check run would shadow the required `migbot` status
    steps = job["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@")
    assert steps[0]["with"] == {"fetch-depth": 0, "persist-credentials": False}


RELEASE = ROOT / ".github/workflows/release.yml"


def release_version_step(ref_name: str, output: Path) -> subprocess.CompletedProcess:
    """Run release.yml's version step as the runner would (bash -eo pipefail), for the tag `ref_name`."""
    workflow = yaml.safe_load(RELEASE.read_text())
    [step] = [s for s in workflow["jobs"]["image"]["steps"] if s.get("id") == "version"]
    env = {**os.environ, **workflow["env"], "GITHUB_REF_NAME": ref_name, "GITHUB_OUTPUT": str(output)}
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], check=False,
                          cwd=ROOT, env=env, capture_output=True, text=True)


def test_action_yml_runs_the_image_release_yml_pushes_for_the_package_version(tmp_path):
    from migbot import __version__

    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"] == __version__
    workflow = yaml.safe_load(RELEASE.read_text())
    image = workflow["env"]["IMAGE"]
    assert yaml.safe_load((ROOT / "action.yml").read_text())["runs"]["image"] == f"docker://{image}:v{__version__}"

    assert workflow[True] == {"push": {"tags": ["v*"]}}  # YAML 1.1 reads the key `on` as True
    assert workflow["permissions"] == {"contents": "read", "packages": "write"}
    [build] = [s for s in workflow["jobs"]["image"]["steps"] if s.get("uses", "").startswith("docker/build-push-action@")]
    assert build["with"]["context"] == "." and build["with"]["file"] == "Dockerfile"
    assert build["with"]["platforms"] == "linux/amd64,linux/arm64"
    assert build["with"]["push"] is True and build["with"]["tags"] == "${{ steps.version.outputs.tags }}"

    output = tmp_path / "output"
    pushed = release_version_step(f"v{__version__}", output)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    major = __version__.split(".")[0]
    assert output.read_text() == f"tags={image}:v{__version__},{image}:v{major}\n"
    # Any other tag is refused before anything is built.
    refused = release_version_step("v99.0.0", tmp_path / "refused")
    assert refused.returncode != 0 and "is not v" in refused.stdout


def test_release_yml_pins_every_action_to_a_commit():
    uses = re.findall(r"^\s*(?:- )?uses: (\S+)(.*)$", RELEASE.read_text(), flags=re.MULTILINE)
    assert len(uses) == 5
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r"\s+# v\d+\.\d+\.\d+", comment), (action, comment)
