"""Reading flow files with positions, so every problem points at file:line:column.

Admins edit flows by hand, so "validation error at nodes.menu.menu.timout" is not good
enough: PyYAML's composed node tree keeps where every key starts, we keep that in a
`SourceMap`, and map pydantic's error locations back onto the YAML that caused them,
in words an admin knows ("unknown option 'timout' for a menu node").
"""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from callcenter.ivr import model as m

Position = tuple[int, int]  # 1-based line, column
PathKey = tuple[str | int, ...]  # ("nodes", "menu", "options", "1"), list items by index
Severity = Literal["error", "warning"]
FLOW_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a flow file, printed like a compiler message."""

    file: str
    line: int  # 1-based; 0 when the problem has no place in the file (unreadable)
    column: int
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: {self.severity}: {self.message}"


class FlowError(Exception):
    """A flow file that cannot be used; `problems` says every reason found, not just one."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


@dataclass
class SourceMap:
    """Where each path of one YAML document starts: a mapping entry maps to its key, a
    list item to the item, the empty path to the document itself."""

    file: str
    positions: dict[PathKey, Position] = field(default_factory=dict)

    def at(self, path: PathKey) -> Position:
        """The position of `path`, or of its deepest ancestor present in the file: a
        missing option is reported where the mapping that lacks it starts."""
        for end in range(len(path), -1, -1):
            found = self.positions.get(path[:end])
            if found is not None:
                return found
        return (1, 1)

    def problem(self, path: PathKey, message: str, severity: Severity = "error") -> Problem:
        line, column = self.at(path)
        return Problem(self.file, line, column, message, severity)


# -- YAML with positions ------------------------------------------------------------


class _TextKeyLoader(yaml.SafeLoader):
    """SafeLoader whose mapping keys are always the text as written.

    YAML 1.1 reads `1:` as an integer and `yes:`/`no:` as booleans, so a menu's
    `options: {1: sales}` or a speech menu's `phrases: {yes: confirm}` would fail with a
    baffling type error. In a flow every key is a name, so the text is what was meant.
    """

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Hashable, Any]:
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping, found {node.id}", node.start_mark
            )
        self.flatten_mapping(node)  # YAML merge keys (<<: *anchor)
        mapping: dict[Hashable, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be plain text", key_node.start_mark
                )
            mapping[key_node.value] = self.construct_object(value_node, deep=deep)
        return mapping


def _mark(mark: yaml.Mark) -> Position:
    return (mark.line + 1, mark.column + 1)


def _index(node: yaml.Node, path: PathKey, out: dict[PathKey, Position]) -> None:
    """Record the position of every key and list item under `node`."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, str(key_node.value))
            out.setdefault(child, _mark(key_node.start_mark))
            _index(value_node, child, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out.setdefault((*path, index), _mark(item.start_mark))
            _index(item, (*path, index), out)


def _duplicate_keys(node: yaml.Node, source: SourceMap, seen: set[int]) -> Iterator[Problem]:
    """Keys given twice in one mapping: PyYAML silently keeps the last, so a second node
    with an existing id would replace the first without a word."""
    if id(node) in seen:  # an alias met again (or a recursive one)
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[str, Position] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            here = _mark(key_node.start_mark)
            if key in first and key != "<<":
                line, column = here
                message = f"duplicate key {key!r} (first at line {first[key][0]})"
                yield Problem(source.file, line, column, message)
            first.setdefault(key, here)
            yield from _duplicate_keys(value_node, source, seen)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _duplicate_keys(item, source, seen)


# PyYAML's words for the mistakes admins make most, and what to do about them.
SYNTAX_HINTS = (
    ("alias", 'quote a key or value that starts with * or &, such as "*"'),
    ("'\\t'", "indent with spaces, not tabs"),
    ("another document", "a flow file holds one document: remove the second '---'"),
)


def _syntax_problem(exc: yaml.MarkedYAMLError, file: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    if exc.context == "while scanning an alias" and exc.context_mark is not None:
        mark = exc.context_mark  # the * itself, not the character after it
    line, column = _mark(mark) if mark is not None else (1, 1)
    reason = exc.problem or exc.context or "unreadable YAML"
    if exc.context and exc.problem and exc.context_mark is not None:
        reason += f" ({exc.context} at line {exc.context_mark.line + 1})"
    hints = [hint for words, hint in SYNTAX_HINTS if words in f"{exc.problem} {exc.context}"]
    if hints:
        reason += f"; {hints[0]}"
    return Problem(file, line, column, f"YAML syntax: {reason}")


def parse(text: str, file: str) -> tuple[Any, SourceMap, list[Problem]]:
    """The document, where its parts are, and its duplicate keys.

    Raises FlowError for text that is not YAML (with the position PyYAML gives).
    """
    loader = _TextKeyLoader(text)
    source = SourceMap(file)
    try:
        root = loader.get_single_node()
        if root is None:
            raise FlowError([Problem(file, 1, 1, "the file is empty")])
        duplicates = list(_duplicate_keys(root, source, set()))
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        raise FlowError([_syntax_problem(exc, file)]) from None
    except yaml.YAMLError as exc:  # e.g. a byte YAML does not allow, without a mark
        raise FlowError([Problem(file, 1, 1, f"YAML syntax: {exc}")]) from None
    finally:
        loader.dispose()
    source.positions[()] = _mark(root.start_mark)
    _index(root, (), source.positions)
    return data, source, duplicates


def read_source(path: Path) -> SourceMap:
    """Positions only, for checks made after loading; never raises (positions then fall
    back to 1:1, the problem itself is still reported)."""
    try:
        return parse(path.read_text(encoding="utf-8"), str(path))[1]
    except (OSError, UnicodeDecodeError, FlowError):
        return SourceMap(str(path))


# -- loading ------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedFlow:
    flow: m.Flow
    source: SourceMap


def load_flow(path: Path) -> m.Flow:
    """The flow in `path`; FlowError lists everything wrong with it."""
    return load_flow_source(path).flow


def load_flow_source(path: Path) -> LoadedFlow:
    """The flow and where its parts are in the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FlowError([Problem(str(path), 1, 1, f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise FlowError([Problem(str(path), 0, 0, f"cannot read: {exc.strerror}")]) from None
    return load_flow_text(text, str(path))


def load_flow_text(text: str, file: str) -> LoadedFlow:
    """Parse and check one flow document; `file` is only used in messages."""
    data, source, problems = parse(text, file)
    if not isinstance(data, dict):
        message = "a flow file must be a mapping with name, start and nodes"
        raise FlowError([*problems, source.problem((), message)])
    try:
        flow = m.Flow.model_validate(data)
    except ValidationError as exc:
        explained = (_explain(source, data, err) for err in exc.errors())
        problems += [p for p in explained if p is not None]
        raise FlowError(_sorted(_dedupe(problems))) from None
    if problems:
        raise FlowError(problems)
    return LoadedFlow(flow, source)


@dataclass
class FlowSet:
    """The flows of a directory that loaded, and the problems of those that did not."""

    directory: Path
    flows: list[LoadedFlow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def pairs(self) -> list[tuple[m.Flow, Path]]:
        """(flow, file) pairs, as `validate_flows` takes them."""
        return [(loaded.flow, Path(loaded.source.file)) for loaded in self.flows]


def flow_files(directory: Path) -> list[Path]:
    """The flow files of a directory, in name order (the order problems are listed in)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in FLOW_SUFFIXES and p.is_file())


def load_flows(directory: Path) -> FlowSet:
    """Every *.yaml/*.yml flow of a directory; a bad file never hides the others."""
    result = FlowSet(directory, files=flow_files(directory))
    for path in result.files:
        try:
            result.flows.append(load_flow_source(path))
        except FlowError as exc:
            result.problems.extend(exc.problems)
    return result


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[int, int, str]] = set()
    out = []
    for p in problems:
        if (p.line, p.column, p.message) not in seen:
            seen.add((p.line, p.column, p.message))
            out.append(p)
    return out


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line, p.column))


# -- pydantic errors in admin words -------------------------------------------------


def _node_classes() -> dict[str, type[BaseModel]]:
    union = typing.get_args(m.Node)[0]
    return {
        typing.get_args(cls.model_fields["type"].annotation)[0]: cls
        for cls in typing.get_args(union)
    }


NODE_CLASSES = _node_classes()
PROMPT_FIELDS = ("prompt", "invalid_prompt", "no_input_prompt")
NESTED_MODELS: dict[str, tuple[type[BaseModel], str]] = {
    **{name: (m.Prompt, "a prompt") for name in PROMPT_FIELDS},
    "business_hours": (m.BusinessHours, "business_hours"),
    "compare": (m.Compare, "compare"),
    "branches": (m.Branch, "a condition branch"),
}
# What each pattern in model.py means, so "does not match ^[A-Za-z_]..." reads as words.
PATTERNS = {
    r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$": "a node id (a letter or _, then letters, digits, "
    "_ or -; at most 64)",
    r"^[A-Za-z_][A-Za-z0-9_]{0,63}$": "a variable name (a letter or _, then letters, digits or _)",
    r"^[A-Za-z0-9_-]{1,64}$": "a flow name (letters, digits, _ or -; at most 64)",
    r"^\+?[0-9*#]{1,32}$": "a dialed number (digits, * and #, an optional leading +)",
    r"^[A-Za-z0-9_/-]+$": "an Asterisk sound name such as hello-world or digits/1",
    r"^[A-Za-z0-9_./-]+\.(wav|WAV)$": "a .wav file under media/, such as prompts/en/hi.wav",
    r"^\d\d:\d\d-\d\d:\d\d$": "a time range such as 09:00-17:30",
    r"^\d{4}-\d\d-\d\d$": "a date such as 2026-12-25",
    r"^https?://": "an http:// or https:// URL",
    r"^[0-9*#]{1,32}$": "an extension (digits, * and #)",
    r"^\+?[0-9]{3,32}$": "a phone number (digits, an optional leading +)",
}


def _is_union_member(part: str | int) -> bool:
    """pydantic names the member of a plain union it tried: "list[...]", "function-after[...]"."""
    return isinstance(part, str) and ("[" in part or part == "Prompt")


def _node_type(data: Any, node_id: str | int) -> Any:
    nodes = data.get("nodes") if isinstance(data, dict) else None
    node = nodes.get(node_id) if isinstance(nodes, dict) else None
    return node.get("type") if isinstance(node, dict) else None


@dataclass
class _Located:
    """A pydantic error location resolved against the document."""

    path: PathKey  # the deepest part that exists, plus a missing key at most
    value: Any  # what the path points at (None past the end)
    is_key: bool = False  # the error is about a mapping key, not its value
    wrong_branch: bool = False  # an error of the union member the input is not shaped for


def _has(value: Any, part: str | int) -> bool:
    if isinstance(value, dict):
        return part in value and not _is_union_member(part)
    return isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)


def _locate(loc: tuple[str | int, ...], data: Any) -> _Located:
    """Walk `loc` through `data`, dropping what pydantic adds that is not in the file:
    the node type tag ("nodes", "menu", "menu", ...), union members, "[key]"."""
    parts = list(loc)
    if len(parts) >= 3 and parts[0] == "nodes" and parts[2] == _node_type(data, parts[1]):
        del parts[2]
    found = _Located((), data)
    for part in parts:
        value = found.value
        if _has(value, part):
            found.path, found.value = (*found.path, part), value[part]
        elif part == "[key]":
            found.is_key = True
        elif _is_union_member(part):
            is_list = isinstance(part, str) and part.startswith("list[")
            # A mapping is a prompt, a list is prompts; anything else gets one message.
            found.wrong_branch |= is_list != isinstance(value, list)
        else:  # a key the file does not have
            found.path, found.value = (*found.path, part), None
            break
    return found


def _model_at(path: PathKey, data: Any) -> tuple[type[BaseModel], str] | None:
    """The model a mapping at `path` is read as, and how to name it to an admin."""
    if not path:
        return m.Flow, "a flow"
    if len(path) == 2 and path[0] == "nodes":
        node_type = _node_type(data, path[1])
        cls = NODE_CLASSES.get(node_type) if isinstance(node_type, str) else None
        return (cls, f"a {node_type} node") if cls else None
    names = [p for p in path if isinstance(p, str)]
    found = NESTED_MODELS.get(names[-1])
    if found and found[0] is m.Branch and not isinstance(path[-1], int):
        return None  # the list itself, not one branch
    return found


def _field(path: PathKey) -> str:
    names = [p for p in path if isinstance(p, str)]
    return names[-1] if names else "flow"


def suggest(word: str, choices: typing.Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest of `choices`, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _explain(source: SourceMap, data: Any, err: ErrorDetails) -> Problem | None:
    """One pydantic error as a Problem at the key (or list item) it is about; None for
    the errors of a union member the input was not written as."""
    where = _locate(tuple(err["loc"]), data)
    if where.wrong_branch:
        return None
    path, message = _describe(where, err, data)
    return source.problem(path, message)


def _describe(where: _Located, err: ErrorDetails, data: Any) -> tuple[PathKey, str]:
    """Where to point and what to say for one error, by pydantic's error type."""
    kind, path = err["type"], where.path
    ctx = err.get("ctx") or {}
    if kind == "union_tag_invalid":
        expected = ", ".join(m.NODE_TYPES)
        return (*path, "type"), f"unknown node type {ctx.get('tag')!r} (expected one of {expected})"
    if kind == "union_tag_not_found":
        return path, f"missing 'type' (one of {', '.join(m.NODE_TYPES)})"
    if kind == "extra_forbidden":
        return path, _unknown_option(path, data)
    if kind == "missing":
        model = _model_at(path[:-1], data)
        whose = f" (required for {model[1]})" if model else ""
        return path, f"missing {path[-1]!r}{whose}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return path, _not_a_mapping(path)
    if kind == "value_error":
        return _value_error(path, str(err["msg"]).removeprefix("Value error, "), where.value)
    return path, _bad_value(where, err)


def _unknown_option(path: PathKey, data: Any) -> str:
    option = str(path[-1])
    model = _model_at(path[:-1], data)
    if model is None:
        return f"unknown option {option!r}"
    cls, name = model
    return f"unknown option {option!r} for {name}{suggest(option, cls.model_fields)}"


def _not_a_mapping(path: PathKey) -> str:
    if _field(path) in PROMPT_FIELDS:
        return f"{_field(path)!r} must be a mapping with one of say, sound, file (or a list)"
    if len(path) == 2 and path[0] == "nodes":
        return f"node {path[1]!r} must be a mapping with a 'type' and its options"
    if path == ("nodes",):
        return "'nodes' must be a mapping of node ids to nodes"
    return f"{_field(path)!r} must be a mapping"


def _value_error(path: PathKey, message: str, value: Any) -> tuple[PathKey, str]:
    """A model validator's message; point at the key it names when there is one
    ("min_digits is larger...", "option '11': ...") rather than the whole mapping."""
    named = re.match(r"option '([^']*)'", message)
    key = named.group(1) if named else message.split(" ", 1)[0]
    if isinstance(value, dict) and key in value:
        return (*path, key), message
    return path, message


def _subject(where: _Located, value: Any) -> str:
    """What the message is about: "'timeout' -1", "'numbers' item '12a'", "key 'x' of ..."."""
    path, name = where.path, _field(where.path)
    if where.is_key:
        return f"key {path[-1]!r} of {_field(path[:-1])!r}"
    if path and isinstance(path[-1], int):
        return f"{name!r} item {value!r}"
    return repr(name) if isinstance(value, dict | list) else f"{name!r} {value!r}"


def _bad_value(where: _Located, err: ErrorDetails) -> str:
    """Any other pydantic error: the value, and pydantic's reason or what a pattern means."""
    value, ctx = err["input"], err.get("ctx") or {}
    subject = _subject(where, value)
    kind = err["type"]
    if kind == "string_pattern_mismatch":
        meaning = PATTERNS.get(str(ctx.get("pattern")), f"matching {ctx.get('pattern')}")
        return f"{subject} is not {meaning}"
    if kind == "literal_error":
        return f"{subject} is not allowed (expected {ctx.get('expected')})"
    if kind == "string_type" and isinstance(value, bool | int | float):
        return f"{subject} must be text (put it in quotes)"
    detail = str(err["msg"])
    return f"{subject}: {detail[0].lower()}{detail[1:]}"
