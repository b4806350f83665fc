"""Loading flow files: positions of keys, and pydantic's errors in an admin's words."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.ivr.loader import (
    PATTERNS,
    FlowError,
    Problem,
    load_flow,
    load_flow_text,
    load_flows,
    parse,
)
from callcenter.ivr.model import Flow

MINIMAL = "name: t\nstart: bye\nnodes:\n  bye: {type: hangup}\n"


def errors(text: str) -> list[str]:
    """Each problem of `text` as "line:column: message"."""
    with pytest.raises(FlowError) as caught:
        load_flow_text(text, "t.yaml")
    return [f"{p.line}:{p.column}: {p.message}" for p in caught.value.problems]


def test_positions_are_one_based_and_point_at_keys_and_items():
    _, source, _ = parse(
        "name: t\nnodes:\n  menu:\n    options: {\"1\": a, '2': b}\n    list: [x, y]\n",
        "t.yaml",
    )
    assert source.at(()) == (1, 1)
    assert source.at(("nodes", "menu")) == (3, 3)
    assert source.at(("nodes", "menu", "options", "1")) == (4, 15)
    assert source.at(("nodes", "menu", "options", "2")) == (4, 23)
    assert source.at(("nodes", "menu", "list", 1)) == (5, 15)
    # A path the file does not have falls back to its deepest ancestor that it has.
    assert source.at(("nodes", "menu", "prompt", "say")) == (3, 3)


def test_a_good_file_loads(tmp_path: Path):
    path = tmp_path / "t.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert load_flow(path).nodes["bye"].type == "hangup"


def test_keys_are_text_as_written():
    """`1:` is an int and `yes:` a bool in YAML 1.1; a flow means the text."""
    flow = load_flow_text(
        MINIMAL
        + "  m: {type: menu, prompt: {say: hi}, options: {1: bye, 0: bye}}\n"
        + "  s: {type: speech_menu, prompt: {say: hi}, phrases: {yes: bye, no: m}}\n",
        "t.yaml",
    ).flow
    assert list(flow.nodes["m"].options) == ["1", "0"]  # type: ignore[union-attr]
    assert list(flow.nodes["s"].phrases) == ["yes", "no"]  # type: ignore[union-attr]


def test_the_type_tag_is_not_mistaken_for_a_key():
    """pydantic's location is ("nodes", "q", "queue", "queue") for a queue node's queue."""
    assert errors("name: t\nstart: q\nnodes:\n  q:\n    type: queue\n    queue: ''\n") == [
        "6:5: 'queue' '': string should have at least 1 character"
    ]


def test_unknown_option_suggests_the_closest():
    assert errors("name: t\nstrat: a\nnodes:\n  a: {type: hangup}\n") == [
        "1:1: missing 'start' (required for a flow)",
        "2:1: unknown option 'strat' for a flow (did you mean 'start'?)",
    ]


def test_unknown_option_in_nested_models():
    text = (
        "name: t\nstart: c\nnodes:\n  c:\n    type: condition\n    branches:\n"
        "      - compare: {variable: x, equal: '1'}\n        then: c\n"
        "      - business_hours: {tz: UTC}\n        thn: c\n"
        "    otherwise: c\n"
        "  p: {type: play, prompt: {text: hi}}\n"
    )
    assert errors(text) == [
        "7:32: unknown option 'equal' for compare (did you mean 'equals'?)",
        "9:9: missing 'then' (required for a condition branch)",
        "9:26: unknown option 'tz' for business_hours",
        "10:9: unknown option 'thn' for a condition branch (did you mean 'then'?)",
        "12:28: unknown option 'text' for a prompt",
    ]


def test_one_message_per_prompt_whatever_its_shape():
    """A prompt is a mapping or a list; pydantic reports both shapes, we keep the one meant."""
    text = (
        "name: t\nstart: a\nnodes:\n"
        "  a: {type: play, prompt: hello}\n"
        "  b: {type: play, prompt: [{say: hi}, {sound: beep, say: x}]}\n"
        "  c: {type: play, prompt: {file: ../secret.wav}}\n"
    )
    assert errors(text) == [
        "4:19: 'prompt' must be a mapping with one of say, sound, file (or a list)",
        "5:39: a prompt needs exactly one of say, sound, file",
        "6:28: file must stay inside media/",
    ]


def test_patterns_and_literals_read_as_words():
    text = (
        "name: bad name\nlanguage: fr\nnumbers: ['12a']\nstart: a\nnodes:\n"
        "  a: {type: set, variables: {bad-name: x}, next: 'no way'}\n"
    )
    assert errors(text) == [
        "1:1: 'name' 'bad name' is not a flow name (letters, digits, _ or -; at most 64)",
        "2:1: 'language' 'fr' is not allowed (expected 'en' or 'zh')",
        "3:11: 'numbers' item '12a' is not a dialed number (digits, * and #, an optional "
        "leading +)",
        "6:30: key 'bad-name' of 'variables' is not a variable name (a letter or _, then "
        "letters, digits or _)",
        "6:44: 'next' 'no way' is not a node id (a letter or _, then letters, digits, _ or -; "
        "at most 64)",
    ]


def test_node_that_is_not_a_mapping():
    assert errors("name: t\nstart: a\nnodes:\n  a: hangup\n") == [
        "4:3: node 'a' must be a mapping with a 'type' and its options"
    ]


def test_model_rules_point_at_the_node():
    text = (
        "name: t\nstart: a\nnodes:\n"
        "  a: {type: goto}\n"
        "  b: {type: transfer, queue: q, extension: '1'}\n"
    )
    assert errors(text) == [
        "4:3: goto needs exactly one of node, flow",
        "5:3: transfer needs exactly one of extension, queue, external",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "1:1: the file is empty"),
        ("# nothing\n", "1:1: the file is empty"),
        ("- a\n- b\n", "1:1: a flow file must be a mapping with name, start and nodes"),
        ("name: t\n---\nname: u\n", "2:1: YAML syntax: but found another document"),
        ("name: t\nnodes: {a: [}\n", "2:13: YAML syntax: expected the node content"),
        ("a: !!python/object:os.system x\n", "1:4: YAML syntax: could not determine a constructor"),
        ("? [a, b]\n: c\n", "1:3: YAML syntax: a key must be plain text"),
    ],
)
def test_documents_that_are_not_flows(text: str, expected: str):
    [message] = errors(text)
    assert message.startswith(expected)


def test_unreadable_files_are_problems_too(tmp_path: Path):
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(FlowError) as caught:
        load_flow(binary)
    assert caught.value.problems[0].message.startswith("not UTF-8 text")
    with pytest.raises(FlowError) as caught:
        load_flow(tmp_path / "missing.yaml")
    [problem] = caught.value.problems
    assert str(problem).endswith("missing.yaml: error: cannot read: No such file or directory")
    assert problem.line == 0  # no position: printed as file: error: ...


def test_problem_prints_like_a_compiler():
    problem = Problem("ivr_flows/main.yaml", 7, 5, "unknown option 'timout'", "warning")
    assert str(problem) == "ivr_flows/main.yaml:7:5: warning: unknown option 'timout'"


def test_load_flows_keeps_going_past_a_bad_file(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("name: [\n", encoding="utf-8")
    (tmp_path / "b.yml").write_text(MINIMAL, encoding="utf-8")
    (tmp_path / "c.yaml").write_text(MINIMAL.replace("hangup", "hang"), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a flow", encoding="utf-8")
    flows = load_flows(tmp_path)
    assert [p.name for p in flows.files] == ["a.yaml", "b.yml", "c.yaml"]
    assert [flow.name for flow, _ in flows.pairs] == ["t"]
    assert sorted({Path(p.file).name for p in flows.problems}) == ["a.yaml", "c.yaml"]


def test_load_flows_of_a_missing_folder_is_empty(tmp_path: Path):
    flows = load_flows(tmp_path / "none")
    assert flows.files == [] and flows.flows == [] and flows.problems == []


def test_every_pattern_of_the_model_has_words():
    """A pattern added to model.py must be explained in PATTERNS, or admins see a regex."""

    def patterns(schema: object) -> set[str]:
        if isinstance(schema, dict):
            found = {schema["pattern"]} if isinstance(schema.get("pattern"), str) else set()
            return found.union(*(patterns(v) for v in schema.values()))
        if isinstance(schema, list):
            return set().union(*(patterns(v) for v in schema))
        return set()

    assert patterns(Flow.model_json_schema()) <= set(PATTERNS)
