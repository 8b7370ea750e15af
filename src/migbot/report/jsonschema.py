"""The JSON Schema of the report (schema/report.schema.json is generated from it).

Regenerate with: python -m migbot.report.jsonschema > schema/report.schema.json
"""

from __future__ import annotations

import json

from migbot.report.model import SCHEMA_VERSION, Report


def report_schema() -> dict:
    schema = Report.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://migbot.dev/schema/report-v{SCHEMA_VERSION}.json"
    schema["title"] = f"migbot report, schema version {SCHEMA_VERSION}"
    return schema


if __name__ == "__main__":
    print(json.dumps(report_schema(), indent=2, sort_keys=True))
