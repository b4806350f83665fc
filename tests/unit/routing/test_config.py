"""routing.yaml: the shipped file, every kind of mistake at its line, and the rules."""

import textwrap
from pathlib import Path

import pytest

from callcenter.ivr.loader import load_flows
from callcenter.ivr.model import QueueNode
from callcenter.routing.config import RoutingError, load_routing, load_routing_text
from callcenter.routing.model import OverflowKind, Strategy
from callcenter.routing.rules import Rule, region_for_number, route
from tests.support.cli import clean_env, run_cli

ROOT = Path(__file__).resolve().parents[3]


def test_the_shipped_file_covers_every_queue_the_shipped_flows_use():
    routing = load_routing(ROOT / "routing.yaml")
    assert routing.warnings == []
    support = routing.queues[routing.queue_names().index("support")]
    assert support.strategy == Strategy.SKILL_WEIGHTED
    assert support.overflow is not None and support.overflow.target == "support_overflow"
    used = {
        node.queue
        for loaded in load_flows(ROOT / "ivr_flows").flows
        for node in loaded.flow.nodes.values()
        if isinstance(node, QueueNode)
    }
    assert used and used <= set(routing.queue_names())


def _problems(text: str) -> list[str]:
    with pytest.raises(RoutingError) as caught:
        load_routing_text(textwrap.dedent(text).lstrip("\n"), "r.yaml")
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            """
            queues:
              sales:
                ring_timout: 10
            """,
            "r.yaml:3:5: error: unknown option 'ring_timout' (did you mean 'ring_timeout'?)",
        ),
        (
            """
            queues:
              sales:
                strategy: fastest
            """,
            "r.yaml:3:5: error: strategy: Input should be 'longest_idle', 'round_robin', "
            "'least_busy' or 'skill_weighted' (got 'fastest')",
        ),
        (
            """
            queues:
              sales:
                max_wait: 60
                overflow: {to: queue, queue: saless}
            """,
            "r.yaml:4:27: error: overflow to unknown queue 'saless' (did you mean 'sales'?)",
        ),
        (
            """
            queues:
              sales:
                overflow: {to: queue}
            """,
            "r.yaml:3:5: error: overflow to a queue needs 'queue: NAME'",
        ),
        (
            """
            queues:
              a: {max_length: 1, overflow: {to: queue, queue: b}}
              b: {max_length: 1, overflow: {to: queue, queue: a}}
            """,
            "r.yaml:2:22: error: overflow goes round in a circle: a -> b -> a; "
            "end it in voicemail or callback",
        ),
        (
            """
            queues:
              sales: {}
            rules:
              - when: {regoin: CN}
                queue: sales
            """,
            "r.yaml:4:12: error: unknown attribute 'regoin' (one of region, channel, tier, "
            "language, queue, number)",
        ),
        (
            """
            queues:
              sales: {}
            rules:
              - when: {tier: vip}
                queue: vips
            """,
            "r.yaml:5:5: error: rule sends to unknown queue 'vips'",
        ),
        (
            """
            queues:
              sales:
                skills: {sales: 11}
            """,
            "r.yaml:3:14: error: sales: Input should be less than or equal to 10 (got 11)",
        ),
        (
            """
            queues:
              sales: {skills: {sales: 1}
            """,
            "r.yaml:3:1: error: YAML syntax",
        ),
    ],
)
def test_each_mistake_is_reported_where_it_is(text, expected):
    assert any(p.startswith(expected) for p in _problems(text)), _problems(text)


def test_max_wait_without_overflow_is_a_warning():
    routing = load_routing_text("queues:\n  sales:\n    max_wait: 60\n", "r.yaml")
    assert [str(w) for w in routing.warnings] == [
        "r.yaml:3:5: warning: max_wait without 'overflow' has no effect: say where tasks go then"
    ]


@pytest.mark.parametrize(
    ("number", "region"),
    [
        ("+86 138 0013 8000", "CN"),
        ("008613800138000", "CN"),
        ("+852 2345 6789", "HK"),
        ("+1 415 555 0100", "US"),
        ("+44 20 7946 0958", "GB"),
        ("13800138000", ""),
        ("anonymous", ""),
    ],
)
def test_region_from_the_number_prefix(number, region):
    assert region_for_number(number) == region


def test_rules_first_queue_wins_skills_and_priority_add_up():
    rules = [
        Rule(when={"tier": ["vip"]}, queue="vip", priority=10),
        Rule(when={"region": ["CN", "HK"]}, queue="china", skills={"zh": 1}),
        Rule(when={"number": ["+86138*"]}, skills={"zh": 3, "mobile": 1}, priority=1),
    ]
    attrs = {"tier": "VIP", "region": "CN", "number": "+8613800138000"}
    decided = route(rules, "support", attrs)
    assert decided.queue == "vip"  # the first rule naming a queue
    assert decided.skills == {"zh": 3, "mobile": 1}
    assert (decided.priority, decided.matched) == (11, (0, 1, 2))
    assert route(rules, "support", {"tier": "new", "region": "US"}).queue == "support"


def test_cli_validate_prints_file_line_and_fails(tmp_path):
    bad = tmp_path / "routing.yaml"
    bad.write_text("queues:\n  sales:\n    overflow: {to: queue, queue: nowhere}\n")
    result = run_cli(clean_env(), "routing", "validate", str(bad))
    assert result.returncode == 1
    assert f"{bad}:3:27: error: overflow to unknown queue 'nowhere'" in result.stdout
    good = run_cli(clean_env(), "routing", "validate", str(ROOT / "routing.yaml"))
    assert good.returncode == 0 and "5 queues, 3 rules, no errors" in good.stdout


def test_overflow_kinds_map_to_the_router():
    routing = load_routing(ROOT / "routing.yaml")
    kinds = {q.name: q.overflow.kind for q in routing.queues if q.overflow is not None}
    assert kinds == {
        "sales": OverflowKind.VOICEMAIL,
        "support": OverflowKind.QUEUE,
        "support_overflow": OverflowKind.CALLBACK,
    }


def test_transcribe_is_off_unless_a_queue_asks_for_it():
    text = "queues:\n  sales: {}\n  support:\n    transcribe: true\n"
    queues = {q.name: q for q in load_routing_text(text, "r.yaml").queues}
    assert not queues["sales"].transcribe and queues["support"].transcribe
    with pytest.raises(RoutingError, match="transcribe"):
        load_routing_text("queues:\n  sales:\n    transcribe: sometimes\n", "r.yaml")
