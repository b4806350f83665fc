"""A flow as a picture: Graphviz DOT text, and SVG through Debian's `dot`.

The edges are the same references the validator follows, so what the picture shows is
what the engine can do: every digit, branch, failure and timeout path.
"""

from __future__ import annotations

import shutil
import subprocess

from callcenter.ivr import model as m

SHAPES = {
    "play": "note",
    "menu": "box3d",
    "collect": "box3d",
    "speech_menu": "box3d",
    "condition": "diamond",
    "lookup": "cylinder",
    "set": "box",
    "goto": "cds",
    "hangup": "doublecircle",
    "queue": "house",
    "voicemail": "tab",
    "callback": "tab",
    "transfer": "cds",
}


class GraphError(Exception):
    pass


def edges(node: m.NodeBase) -> list[tuple[str, str]]:
    """(label, target node) for every way out of `node` within its flow."""
    match node:
        case m.PlayNode() | m.VoicemailNode() | m.CallbackNode():
            return [("", node.next)] if node.next else []
        case m.MenuNode():
            out = [(key, target) for key, target in node.options.items()]
            extra = [
                ("invalid", node.invalid),
                ("no input", node.no_input),
                ("failure", node.on_failure),
            ]
            return out + [(label, t) for label, t in extra if t]
        case m.CollectNode():
            out = [(f"-> {node.store}", node.next)]
            return out + ([("failure", node.on_failure)] if node.on_failure else [])
        case m.SpeechMenuNode():
            out = [(f'"{p}"', t) for p, t in node.phrases.items()]
            out += [(k, t) for k, t in node.dtmf.items()]
            return out + ([("failure", node.on_failure)] if node.on_failure else [])
        case m.ConditionNode():
            out = [(_branch_label(b), b.then) for b in node.branches]
            return [*out, ("otherwise", node.otherwise)]
        case m.LookupNode():
            return [("ok", node.next), ("error", node.on_error)]
        case m.SetNode():
            return [("", node.next)]
        case m.GotoNode():
            return [("", node.node)] if node.node else []
        case m.QueueNode() | m.TransferNode():
            target = node.on_timeout if isinstance(node, m.QueueNode) else node.on_failure
            return (
                [("timeout" if isinstance(node, m.QueueNode) else "failed", target)]
                if target
                else []
            )
    return []


def _branch_label(branch: m.Branch) -> str:
    if branch.business_hours is not None:
        return "open hours"
    if branch.holiday is not None:
        return "holiday"
    if branch.compare is not None:
        return f"{branch.compare.variable} test"
    if branch.caller_matches is not None:
        return "caller matches"
    return f"customer {branch.customer_class}"


def to_dot(flow: m.Flow) -> str:
    lines = [
        f'digraph "{flow.name}" {{',
        "  rankdir=TB;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
        '  __start [shape=point, label=""];',
        f'  __start -> "{flow.start}";',
    ]
    for node_id, node in flow.nodes.items():
        label = f"{node_id}\\n({node.type})"
        if isinstance(node, m.GotoNode) and node.flow:
            label += f"\\n-> flow {node.flow}"
        lines.append(f'  "{node_id}" [shape={SHAPES[node.type]}, label="{label}"];')
        for text, target in edges(node):
            attrs = f' [label="{_escape(text)}"]' if text else ""
            lines.append(f'  "{node_id}" -> "{target}"{attrs};')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_svg(flow: m.Flow, timeout: float = 30.0) -> str:
    dot = shutil.which("dot")
    if dot is None:
        raise GraphError("Graphviz is missing: run `apt-get install graphviz`")
    result = subprocess.run(
        [dot, "-Tsvg"],
        input=to_dot(flow),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise GraphError(f"dot failed: {result.stderr.strip()}")
    return result.stdout
