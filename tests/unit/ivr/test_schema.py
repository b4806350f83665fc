"""The committed JSON Schema is the one the model generates, so editors never go stale."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from callcenter.cli.ivr import app
from callcenter.ivr.model import DTMF_KEYS
from callcenter.ivr.schema import DTMF_KEY_PATTERN, SCHEMA_FILE, flow_json_schema, schema_text


def test_committed_schema_is_current():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "ivr_flows/flow.schema.json is stale: run "
        "`callcenter ivr schema -o ivr_flows/flow.schema.json`"
    )


def test_schema_names_itself_and_keeps_the_exactly_one_rules():
    schema = flow_json_schema()
    assert schema["$id"].endswith("/flow.schema.json")
    assert schema["title"] == "Call center IVR flow"
    assert schema["$defs"]["Prompt"]["oneOf"] == [
        {"required": ["say"]},
        {"required": ["sound"]},
        {"required": ["file"]},
    ]
    assert {"required": ["flow"]} in schema["$defs"]["GotoNode"]["oneOf"]


def test_dtmf_key_pattern_is_the_models_keys():
    allowed = {chr(c) for c in range(32, 127) if re.fullmatch(DTMF_KEY_PATTERN, chr(c))}
    assert allowed == set(DTMF_KEYS)


def test_cli_prints_and_writes_the_schema(tmp_path):
    runner = CliRunner()
    printed = runner.invoke(app, ["schema"])
    assert printed.exit_code == 0 and printed.stdout == schema_text()
    target = tmp_path / "flow.schema.json"
    written = runner.invoke(app, ["schema", "-o", str(target)])
    assert written.exit_code == 0 and target.read_text(encoding="utf-8") == schema_text()
