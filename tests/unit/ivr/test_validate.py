"""Cross-checks, the broken-flow corpus, and `callcenter ivr validate`.

Every file of tests/ivr_corpus/broken/ says on its first lines what must be reported
(`# expect: LINE:COLUMN: text` or `# expect warning: ...`); nothing else may be. A
folder there is one set of flows checked together (numbers and names across files).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callcenter.cli.ivr import app
from callcenter.config import default_media_dir
from callcenter.ivr.loader import FlowError, Problem, load_flow, load_flows
from callcenter.ivr.validate import validate_flows

CORPUS = Path(__file__).resolve().parents[2] / "ivr_corpus"
BROKEN = CORPUS / "broken"
GOOD = CORPUS / "good"
EXPECT = re.compile(r"^# expect( warning)?: (\d+):(\d+): (.+)$")


@dataclass(frozen=True)
class Expected:
    severity: str
    line: int
    column: int
    text: str

    def matches(self, problem: Problem) -> bool:
        return (
            problem.severity == self.severity
            and (problem.line, problem.column) == (self.line, self.column)
            and self.text in problem.message
        )


def expectations(path: Path) -> list[Expected]:
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = EXPECT.match(line)
        if not match:
            break
        warning, row, column, text = match.groups()
        found.append(Expected("warning" if warning else "error", int(row), int(column), text))
    return found


def problems_of(path: Path) -> list[Problem]:
    """What loading and checking one file alone reports."""
    try:
        flow = load_flow(path)
    except FlowError as exc:
        return exc.problems
    return validate_flows([(flow, path)], default_media_dir())


def assert_reported(path: Path, problems: list[Problem]) -> None:
    expected = expectations(path)
    assert expected, f"{path.name} has no '# expect:' line"
    shown = "\n".join(map(str, problems)) or "(nothing)"
    for want in expected:
        assert any(want.matches(p) for p in problems), f"{want} not reported:\n{shown}"
    assert len(problems) == len(expected), f"unexpected problems:\n{shown}"


@pytest.mark.parametrize("path", sorted(BROKEN.glob("*.yaml")), ids=lambda p: p.stem)
def test_broken_file_reports_what_it_expects(path: Path):
    assert_reported(path, problems_of(path))


@pytest.mark.parametrize(
    "folder", sorted(p for p in BROKEN.iterdir() if p.is_dir()), ids=lambda p: p.name
)
def test_broken_folder_reports_on_every_file(folder: Path):
    flows = load_flows(folder)
    problems = flows.problems + validate_flows(flows.pairs, default_media_dir())
    for path in flows.files:
        assert_reported(path, [p for p in problems if p.file == str(path)])


def test_corpus_covers_enough_cases():
    assert len(list(BROKEN.glob("*.yaml"))) >= 15


def test_good_flows_have_no_problem():
    flows = load_flows(GOOD)
    assert len(flows.flows) == 2
    assert flows.problems == []
    assert validate_flows(flows.pairs, default_media_dir()) == []


def test_shipped_flows_have_no_problem():
    flows = load_flows(Path(__file__).resolve().parents[3] / "ivr_flows")
    assert flows.problems == []
    assert validate_flows(flows.pairs, default_media_dir()) == []


# -- single checks on small flows written here ---------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def check(*paths: Path, media: Path | None = None) -> list[Problem]:
    return validate_flows([(load_flow(p), p) for p in paths], media or default_media_dir())


def test_every_kind_of_reference_is_checked(tmp_path: Path):
    path = write(
        tmp_path,
        "refs.yaml",
        """\
name: refs
start: menu
nodes:
  menu:
    type: menu
    prompt: {say: "Choose."}
    options: {"1": x1}
    invalid: x2
    no_input: x3
    on_failure: x4
  talk:
    type: speech_menu
    prompt: {say: "Say it."}
    phrases: {sales: x5}
    dtmf: {"1": x6}
  cond:
    type: condition
    branches: [{customer_class: vip, then: x7}]
    otherwise: x8
  fetch: {type: lookup, url: "https://x.example", next: x9, on_error: x10}
  wait: {type: queue, queue: q, on_timeout: x11}
  jump: {type: goto, node: x12}
""",
    )
    missing = {
        m.group(1)
        for p in check(path)
        if (m := re.search(r"no node '(x\d+)'", p.message)) and p.severity == "error"
    }
    assert missing == {f"x{i}" for i in range(1, 13)}


def test_cross_flow_loop_is_reported_in_both_flows(tmp_path: Path):
    a = write(tmp_path, "a.yaml", "name: a\nstart: go\nnodes:\n  go: {type: goto, flow: b}\n")
    b = write(
        tmp_path,
        "b.yaml",
        "name: b\nstart: hi\nnodes:\n"
        "  hi: {type: play, prompt: {say: hi}, next: go}\n"
        "  go: {type: goto, flow: a}\n",
    )
    problems = check(a, b)
    assert [(p.file, p.line, p.severity) for p in problems] == [
        (str(a), 4, "error"),
        (str(b), 4, "error"),
    ]
    assert "go -> b:hi -> b:go -> go" in problems[0].message


def test_a_loop_through_a_menu_waits_for_the_caller(tmp_path: Path):
    path = write(
        tmp_path,
        "menu_loop.yaml",
        """\
name: menu_loop
start: menu
nodes:
  menu: {type: menu, prompt: {say: "Press 1."}, options: {"1": again}}
  again: {type: play, prompt: {say: "Again."}, next: menu}
""",
    )
    assert check(path) == []


def test_prompt_files_are_looked_for_in_the_media_dir(tmp_path: Path):
    media = tmp_path / "media"
    (media / "prompts").mkdir(parents=True)
    (media / "prompts" / "hi.wav").write_bytes(b"RIFF")
    path = write(
        tmp_path,
        "files.yaml",
        """\
name: files
start: hi
nodes:
  hi:
    type: play
    prompt: [{file: prompts/hi.wav}, {file: prompts/gone.wav}]
    next: menu
  menu:
    type: menu
    prompt: {say: "Press 1."}
    options: {"1": hi}
    invalid_prompt: {file: prompts/gone.wav}
""",
    )
    problems = check(path, media=media)
    assert [(p.line, p.column) for p in problems] == [(6, 39), (12, 22)]
    assert all(f"not found in {media}" in p.message for p in problems)


def test_holiday_dates_must_exist(tmp_path: Path):
    path = write(
        tmp_path,
        "dates.yaml",
        """\
name: dates
start: c
nodes:
  c:
    type: condition
    branches: [{holiday: ["2026-02-29"], then: bye}]
    otherwise: bye
  bye: {type: hangup}
""",
    )
    [problem] = check(path)
    assert (problem.line, problem.column) == (6, 27)
    assert "'2026-02-29' is not a date of the calendar" in problem.message


def test_positions_fall_back_when_the_file_changed_since(tmp_path: Path):
    path = write(tmp_path, "gone.yaml", "name: gone\nstart: x\nnodes:\n  a: {type: hangup}\n")
    flow = load_flow(path)
    path.unlink()
    problems = validate_flows([(flow, path)], default_media_dir())
    assert [(p.line, p.column) for p in problems] == [(1, 1)]


# -- the command line -----------------------------------------------------------------

runner = CliRunner()


def test_cli_validate_prints_compiler_style_lines_and_fails(tmp_path: Path):
    bad = BROKEN / "unknown_option.yaml"
    result = runner.invoke(app, ["validate", str(bad), "--media", str(default_media_dir())])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{bad}:10:5: error: unknown option 'timout'")
    assert lines[-1] == f"{bad}: 1 file checked, 1 error, 0 warnings"


def test_cli_validate_a_folder_shows_every_file(tmp_path: Path):
    write(tmp_path, "ok.yaml", "name: ok\nstart: bye\nnodes:\n  bye: {type: hangup}\n")
    write(tmp_path, "broken.yml", "name: [\n")
    write(
        tmp_path,
        "orphan.yaml",
        "name: orphan\nstart: bye\nnodes:\n  bye: {type: hangup}\n  lost: {type: hangup}\n",
    )
    result = runner.invoke(app, ["validate", str(tmp_path), "--media", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path / 'broken.yml'}:2:1: error: YAML syntax" in result.stdout
    assert f"{tmp_path / 'orphan.yaml'}:5:3: warning: node 'lost'" in result.stdout
    assert result.stdout.splitlines()[-1].endswith("3 files checked, 1 error, 1 warning")


def test_cli_warnings_alone_pass(tmp_path: Path):
    write(
        tmp_path,
        "orphan.yaml",
        "name: orphan\nstart: bye\nnodes:\n  bye: {type: hangup}\n  lost: {type: hangup}\n",
    )
    result = runner.invoke(app, ["validate", str(tmp_path), "--media", str(tmp_path)])
    assert result.exit_code == 0
    assert "1 warning" in result.stdout


def test_cli_validate_good_corpus(tmp_path: Path):
    result = runner.invoke(app, ["validate", str(GOOD), "--media", str(default_media_dir())])
    assert result.exit_code == 0, result.stdout
    assert result.stdout == f"{GOOD}: 2 files checked, no problems\n"


def test_cli_single_file_is_checked_with_its_folder(tmp_path: Path):
    """A goto to a sibling flow resolves, and the sibling's own problems stay out."""
    write(tmp_path, "other.yaml", "name: other\nstart: nowhere\nnodes:\n  a: {type: hangup}\n")
    main = write(
        tmp_path, "main.yaml", "name: main\nstart: go\nnodes:\n  go: {type: goto, flow: other}\n"
    )
    result = runner.invoke(app, ["validate", str(main), "--media", str(tmp_path)])
    assert result.exit_code == 0, result.stdout


def test_cli_missing_path(tmp_path: Path):
    result = runner.invoke(app, ["validate", str(tmp_path / "nope"), "--media", str(tmp_path)])
    assert result.exit_code == 2


def test_cli_default_folder_comes_from_the_settings(tmp_path: Path, monkeypatch):
    write(tmp_path, "ok.yaml", "name: ok\nstart: bye\nnodes:\n  bye: {type: hangup}\n")
    monkeypatch.setenv("CALLCENTER_FLOWS_DIR", str(tmp_path))
    monkeypatch.setenv("CALLCENTER_MEDIA_DIR", str(tmp_path))
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0, result.stdout
    assert result.stdout == f"{tmp_path}: 1 file checked, no problems\n"


def test_cli_queue_nodes_must_name_a_queue_of_the_routing_file(tmp_path: Path):
    flows = tmp_path / "flows"
    flows.mkdir()
    write(flows, "q.yaml", "name: q\nstart: wait\nnodes:\n  wait: {type: queue, queue: suport}\n")
    routing = write(tmp_path, "routing.yaml", "queues:\n  support: {}\n  sales: {}\n")
    args = ["validate", str(flows), "--media", str(tmp_path), "--routing", str(routing)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert (
        f"{flows / 'q.yaml'}:4:23: error: unknown queue 'suport' (did you mean 'support'?) "
        "(routing.yaml has: sales, support)"
    ) in result.stdout
    routing.write_text("queues:\n  suport: {}\n")
    assert runner.invoke(app, args).exit_code == 0
