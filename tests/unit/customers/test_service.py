"""The customer service on SQLite and PostgreSQL: search (tags in JSON, Chinese text),
merge in one transaction, who sees which profile, and the CSV import."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callcenter.calls.service import CallService, NewCall
from callcenter.clock import FixedClock
from callcenter.customers import csvio
from callcenter.customers.access import Scope
from callcenter.customers.fields import NewProfile, ProfileChange
from callcenter.customers.service import (
    CustomerMerged,
    CustomerNotFound,
    CustomerService,
    FieldError,
    IdentityTaken,
)
from callcenter.events.memory import InMemoryBus
from tests.support.reports import seed_agents

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def calls(database, clock) -> CallService:
    return CallService(database, InMemoryBus(), clock)


@pytest.fixture
def customers(database, clock, calls) -> CustomerService:
    return CustomerService(database, clock, calls.flush)


async def test_search_by_tag_name_and_identity(customers):
    a = await customers.create(NewProfile.model_validate({"name": "李雷", "tags": ["金卡", "vip_1"],
        "phones": ["+86 138 0000 0001"], "chats": ["wx:LiLei"]}))  # fmt: skip
    b = await customers.create(NewProfile.model_validate(
        {"name": "Han Meimei", "tags": ["vip11"], "emails": ["han@example.cn"]}))  # fmt: skip
    ids = lambda found: [c["id"] for c in found[0]]  # noqa: E731
    assert ids(await customers.search(tag="金卡")) == [a["id"]]
    assert ids(await customers.search(tag="vip_1")) == [a["id"]]  # "_" is no wildcard
    assert ids(await customers.search(q="李")) == [a["id"]]
    assert ids(await customers.search(q="138-0000")) == [a["id"]]
    assert ids(await customers.search(q="HAN@")) == [b["id"]]
    assert ids(await customers.search(q="meimei")) == [b["id"]]
    assert ids(await customers.search(q="wx:lilei")) == [a["id"]]
    assert (await customers.search(limit=1, offset=1))[1] == 2


async def test_merge_moves_calls_and_identities_in_one_go(database, customers, calls):
    (agent,) = await seed_agents(database, ["ann"])
    first = await calls.start(NewCall("c-1", "+8613800000001", "", "400"))
    second = await calls.start(NewCall("c-2", "+8613800000002", "", "400"))
    await calls.connected(second.id, agent, ring_seconds=1.0)  # still in memory: flushed
    assert first.customer_id and second.customer_id
    await customers.update(second.customer_id, ProfileChange(tags=["b"]))
    merged = await customers.merge(first.customer_id, second.customer_id)
    assert merged["tags"] == ["b"] and len(merged["identities"]) == 2
    timeline = await customers.timeline(first.customer_id)
    assert [item["id"] for item in timeline] == [second.id, first.id]
    with pytest.raises(CustomerMerged) as merged_away:
        await customers.get(second.customer_id)
    assert merged_away.value.merged_into == first.customer_id
    # The agent served the merged profile: they see the kept one it went into.
    seen = await customers.get(first.customer_id, Scope(everyone=False, user_id=agent))
    assert seen["id"] == first.customer_id
    with pytest.raises(FieldError):
        await customers.merge(first.customer_id, second.customer_id)


async def test_an_agent_sees_only_customers_they_served(database, customers, calls):
    ann, bob = await seed_agents(database, ["ann", "bob"])
    call = await calls.start(NewCall("c-1", "+8613800000001", "", "400"))
    other = await calls.start(NewCall("c-2", "+8613800000002", "", "400"))
    await calls.connected(call.id, ann, ring_seconds=1.0)
    assert call.customer_id and other.customer_id
    mine = Scope(everyone=False, user_id=ann)
    assert [c["id"] for c in (await customers.search(mine))[0]] == [call.customer_id]
    with pytest.raises(CustomerNotFound):
        await customers.get(other.customer_id, mine)
    assert (await customers.search(Scope(everyone=False, user_id=bob)))[1] == 0
    assert (await customers.search(Scope(everyone=False, user_id=None)))[1] == 0


async def test_a_taken_identity_names_its_customer(customers):
    a = await customers.create(NewProfile.model_validate({"chats": ["wx:li"]}))
    b = await customers.create(NewProfile.model_validate({"chats": ["wx:han"]}))
    with pytest.raises(IdentityTaken) as taken:
        await customers.add_identity(b["id"], "chat", "wx:li")
    assert taken.value.customer_id == a["id"] and taken.value.field == "value"


async def test_an_import_is_all_or_nothing(customers):
    await customers.create(NewProfile.model_validate({"phones": ["+8613800000001"]}))
    await customers.create(NewProfile.model_validate({"emails": ["x@example.cn"]}))
    # Row 3 ties two existing profiles together: refused, and row 2 is not stored either.
    data = "name,phones,emails\n新客户,+8613900000000,\n两个,+8613800000001,x@example.cn\n"
    with pytest.raises(csvio.ImportRejected) as rejected:
        await customers.import_rows(csvio.parse(data.encode()))
    assert [(e.row, e.field) for e in rejected.value.errors] == [(3, "phones")]
    assert (await customers.search())[1] == 2
    counts = await customers.import_rows(
        csvio.parse("name,phones\n新客户,+8613900000000\n".encode())
    )
    assert counts == {"created": 1, "updated": 0}
    assert (await customers.search(q="新客户"))[0][0]["region"] == "CN"


async def test_a_merge_that_fails_midway_changes_nothing(customers, calls, monkeypatch):
    from callcenter.customers import service

    kept = await calls.start(NewCall("c-1", "+8613800000001", "", "400"))
    other = await calls.start(NewCall("c-2", "+8613800000002", "", "400"))
    assert kept.customer_id and other.customer_id
    await customers.update(other.customer_id, ProfileChange(tags=["b"]))
    real_update = service.update

    def failing_update(table):  # the calls' move breaks, after the profile and identities
        if table is service.CALLS:
            raise RuntimeError("database gone")
        return real_update(table)

    monkeypatch.setattr(service, "update", failing_update)
    with pytest.raises(RuntimeError):
        await customers.merge(kept.customer_id, other.customer_id)
    monkeypatch.undo()
    untouched = await customers.get(kept.customer_id)
    assert untouched["tags"] == [] and len(untouched["identities"]) == 1
    assert len((await customers.get(other.customer_id))["identities"]) == 1
    assert [i["id"] for i in await customers.timeline(other.customer_id)] == [other.id]


async def test_config_refuses_a_crm_url_that_is_not_http(tmp_path):
    from pydantic import ValidationError

    from callcenter.config import Settings

    with pytest.raises(ValidationError, match="crm_lookup_url"):
        Settings(_env_file=None, data_dir=tmp_path, crm_lookup_url="crm.local/lookup")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="crm_lookup_timeout"):
        Settings(_env_file=None, data_dir=tmp_path, crm_lookup_timeout=0)  # type: ignore[call-arg]
