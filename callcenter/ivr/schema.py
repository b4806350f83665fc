"""The JSON Schema of a flow file, for editors that complete and check YAML as you type.

ivr_flows/flow.schema.json is generated from the model (a unit test fails when it is
stale; regenerate with `callcenter ivr schema -o ivr_flows/flow.schema.json`). A flow
file opts in with a first line `# yaml-language-server: $schema=flow.schema.json`.

The model's "exactly one of" rules live in validators, which pydantic cannot express
in a schema; they are added here so the editor flags them too. `callcenter ivr validate`
remains the authority: the schema cannot see across nodes or files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from callcenter.ivr.model import Flow

SCHEMA_ID = "https://callcenter.invalid/ivr/flow.schema.json"
SCHEMA_FILE = Path(__file__).resolve().parent.parent.parent / "ivr_flows" / "flow.schema.json"

# Each definition must have exactly one of these keys (see the model's validators).
EXACTLY_ONE = {
    "Prompt": ("say", "sound", "file"),
    "GotoNode": ("node", "flow"),
    "TransferNode": ("extension", "queue", "external"),
    "Branch": ("business_hours", "holiday", "compare", "caller_matches", "customer_class"),
}
DTMF_KEY_PATTERN = "^[0-9*#]$"  # the model's DTMF_KEYS


def flow_json_schema() -> dict[str, Any]:
    """The schema of one flow file (JSON Schema 2020-12)."""
    schema = Flow.model_json_schema()
    definitions = schema["$defs"]
    for name, keys in EXACTLY_ONE.items():
        definitions[name]["oneOf"] = [{"required": [key]} for key in keys]
    options = definitions["MenuNode"]["properties"]["options"]
    options["propertyNames"] = {"pattern": DTMF_KEY_PATTERN}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "Call center IVR flow",
    }


def schema_text() -> str:
    """The schema as the committed file holds it."""
    return json.dumps(flow_json_schema(), indent=2, ensure_ascii=False) + "\n"


def write_schema(path: Path = SCHEMA_FILE) -> None:
    path.write_text(schema_text(), encoding="utf-8")
