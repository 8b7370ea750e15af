"""action.yml and the workflows: valid against GitHub's schemas, and in step with the code."""

from __future__ import annotations

import re
import subprocess
import sys
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
    result = subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", schema, *files], cwd=ROOT,
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
