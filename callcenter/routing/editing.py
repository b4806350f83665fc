"""Edits to routing.yaml made through the admin API, written back into the file.

The file stays the one source of truth, under version control: an edit changes only the
queue it names, keeping the other queues, the rules, the order and every comment, so a
`git diff` after a change made in the browser reads like one made by hand. Every edit is
checked as a whole file (a removed queue may still be an overflow or rule target) before
anything is written.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from callcenter.ivr.loader import Problem
from callcenter.routing.config import Routing, RoutingError, load_routing_text


def _yaml() -> YAML:
    yaml = YAML()  # round-trip: comments, order and quoting survive
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 100
    return yaml


def put_queue(text: str, name: str, settings: Mapping[str, Any], file: str) -> tuple[str, Routing]:
    """routing.yaml with queue `name` added or replaced by `settings`, and what it loads as."""
    document = _load(text, file)
    queues = document.setdefault("queues", CommentedMap())
    queues[name] = CommentedMap(_plain(settings))
    return _checked(document, file)


def delete_queue(text: str, name: str, file: str) -> tuple[str, Routing]:
    """routing.yaml without queue `name`; RoutingError if something still points at it."""
    document = _load(text, file)
    queues = document.get("queues")
    if not isinstance(queues, CommentedMap) or name not in queues:
        raise KeyError(name)
    del queues[name]
    return _checked(document, file)


def write_atomically(path: Path, text: str) -> None:
    """Readers (the controller, an editor, git) see the old file or the new, never half."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _load(text: str, file: str) -> CommentedMap:
    try:
        document = _yaml().load(text)
    except Exception as exc:  # ruamel raises several unrelated error classes
        raise RoutingError([Problem(file, 0, 0, f"cannot parse: {exc}")]) from None
    if document is None:
        document = CommentedMap()
    if not isinstance(document, CommentedMap):
        raise RoutingError([Problem(file, 0, 0, "routing.yaml must be a mapping with 'queues'")])
    return document


def _checked(document: CommentedMap, file: str) -> tuple[str, Routing]:
    out = io.StringIO()
    _yaml().dump(document, out)
    text = out.getvalue()
    return text, load_routing_text(text, file)


def _plain(value: Any) -> Any:
    """JSON values as YAML ones: nested mappings become CommentedMaps, keys keep order."""
    if isinstance(value, Mapping):
        return CommentedMap((str(k), _plain(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
