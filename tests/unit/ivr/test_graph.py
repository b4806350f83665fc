"""The flow picture shows every way out of every node, and Graphviz draws it."""

from pathlib import Path

import yaml

from callcenter.ivr.graph import to_dot, to_svg
from callcenter.ivr.model import Flow

MAIN = Path(__file__).resolve().parents[3] / "ivr_flows" / "main.yaml"


def _main() -> Flow:
    return Flow.model_validate(yaml.safe_load(MAIN.read_text()))


def test_dot_has_every_node_and_labelled_edges():
    flow = _main()
    dot = to_dot(flow)
    for node_id in flow.nodes:
        assert f'"{node_id}" [shape=' in dot
    assert '"menu" -> "order_number" [label="3"];' in dot
    assert '"support" -> "order_number" [label="\\"check my order\\""];' in dot
    assert '"order_number" -> "menu" [label="failure"];' in dot


def test_svg_is_drawn_by_graphviz():
    svg = to_svg(_main())
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "order_number" in svg
