"""Auth over HTTP: login, bearer tokens, permissions, user admin, the audit trail."""

from datetime import timedelta

import pytest

from callcenter.api.deps import websocket_principal, websocket_subprotocol, websocket_token

PW = "correct horse"


@pytest.fixture
async def people(services):
    auth = services.auth
    return {
        "admin": await auth.create_user("admin", PW, "admin"),
        "sup": await auth.create_user("sup", PW, "supervisor"),
        "agent": await auth.create_user("agent", PW, "agent", "Agent Smith", language="zh"),
    }


async def test_login_returns_token_and_profile(client, people):
    r = await client.post("/api/auth/login", json={"username": "Agent ", "password": PW})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 12 * 3600
    assert body["user"]["username"] == "agent"
    assert body["user"]["display_name"] == "Agent Smith"
    assert body["user"]["language"] == "zh"
    assert "tickets.manage" in body["user"]["permissions"]
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["id"] == people["agent"].id


async def test_bad_password_and_unknown_user_get_the_same_401(client, people):
    wrong = await client.post("/api/auth/login", json={"username": "agent", "password": "nope"})
    unknown = await client.post("/api/auth/login", json={"username": "ghost", "password": "x"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "invalid username or password"}


async def test_login_is_rate_limited_then_recovers(client, people, clock):
    for _ in range(3):  # settings.login_attempts_per_minute
        r = await client.post("/api/auth/login", json={"username": "agent", "password": "bad"})
        assert r.status_code == 401
    r = await client.post("/api/auth/login", json={"username": "agent", "password": PW})
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    clock.advance(timedelta(seconds=61))
    r = await client.post("/api/auth/login", json={"username": "agent", "password": PW})
    assert r.status_code == 200


async def test_requests_without_valid_token_get_401(client, people):
    r = await client.get("/api/auth/me")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "Bearer"
    r = await client.get("/api/users", headers={"Authorization": "Bearer not-a-jwt"})
    assert r.status_code == 401
    r = await client.get("/api/users", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert r.status_code == 401


async def test_access_token_expires(client, people, clock, login):
    headers = await login("agent", PW)
    clock.advance(timedelta(hours=12, seconds=1))
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 401


async def test_wrong_role_gets_403_naming_the_permission(client, people, login):
    agent = await login("agent", PW)
    r = await client.get("/api/users", headers=agent)
    assert r.status_code == 403
    assert r.json() == {"detail": "missing permission: users.read"}
    sup = await login("sup", PW)
    assert (await client.get("/api/users", headers=sup)).status_code == 200
    r = await client.post(
        "/api/users", headers=sup, json={"username": "x1x", "password": PW, "role": "agent"}
    )
    assert r.status_code == 403
    assert r.json() == {"detail": "missing permission: users.manage"}


async def test_api_token_works_until_revoked(client, people, login, services):
    headers = await login("sup", PW)
    r = await client.post("/api/auth/tokens", headers=headers, json={"name": "wallboard"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["token"].startswith("cc_")
    token_headers = {"Authorization": f"Bearer {created['token']}"}

    me = await client.get("/api/auth/me", headers=token_headers)
    assert me.status_code == 200
    assert me.json()["username"] == "sup"
    listed = (await client.get("/api/auth/tokens", headers=headers)).json()
    assert [t["name"] for t in listed] == ["wallboard"]
    assert "token" not in listed[0]
    assert listed[0]["last_used_at"] is not None

    # A token cannot mint more tokens (a leak must not outlive revocation).
    r = await client.post("/api/auth/tokens", headers=token_headers, json={"name": "more"})
    assert r.status_code == 403

    r = await client.delete(f"/api/auth/tokens/{created['id']}", headers=headers)
    assert r.status_code == 204
    assert (await client.get("/api/auth/me", headers=token_headers)).status_code == 401
    assert (await client.get("/api/auth/tokens", headers=headers)).json() == []


async def test_cannot_revoke_someone_elses_token(client, people, login, services):
    row, _ = await services.auth.create_api_token(people["admin"], "admin-script")
    agent = await login("agent", PW)
    r = await client.delete(f"/api/auth/tokens/{row.id}", headers=agent)
    assert r.status_code == 404


async def test_admin_manages_users(client, people, login):
    admin = await login("admin", PW)
    r = await client.post(
        "/api/users",
        headers=admin,
        json={"username": "agent3", "password": PW, "role": "agent", "display_name": "Three"},
    )
    assert r.status_code == 201, r.text
    new_id = r.json()["id"]
    r = await client.patch(
        f"/api/users/{new_id}",
        headers=admin,
        json={"extra_permissions": ["reports.read"], "revoked_permissions": ["tickets.manage"]},
    )
    assert r.status_code == 200, r.text
    perms = r.json()["permissions"]
    assert "reports.read" in perms and "tickets.manage" not in perms
    r = await client.get(f"/api/users/{new_id}", headers=admin)
    assert r.json()["display_name"] == "Three"
    assert (await client.get("/api/users/9999", headers=admin)).status_code == 404


async def test_deactivated_user_loses_access_at_once(client, people, login):
    admin = await login("admin", PW)
    agent = await login("agent", PW)
    r = await client.patch(
        f"/api/users/{people['agent'].id}", headers=admin, json={"is_active": False}
    )
    assert r.status_code == 200
    assert (await client.get("/api/auth/me", headers=agent)).status_code == 401
    r = await client.post("/api/auth/login", json={"username": "agent", "password": PW})
    assert r.status_code == 401


async def test_password_change_via_patch(client, people, login):
    admin = await login("admin", PW)
    r = await client.patch(
        f"/api/users/{people['agent'].id}", headers=admin, json={"password": "new password!"}
    )
    assert r.status_code == 200
    await login("agent", "new password!")
    r = await client.patch(
        f"/api/users/{people['agent'].id}", headers=admin, json={"password": "short"}
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "password"]


async def test_bad_username_is_a_field_level_422(client, people, login):
    admin = await login("admin", PW)
    r = await client.post(
        "/api/users", headers=admin, json={"username": "Bad Name!", "password": PW}
    )
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail[0]["loc"] == ["body", "username"]
    assert "lowercase" in detail[0]["msg"]
    r = await client.post(
        "/api/users", headers=admin, json={"username": "okname", "password": PW, "role": "boss"}
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "role"]


async def test_duplicate_username_is_409(client, people, login):
    admin = await login("admin", PW)
    r = await client.post("/api/users", headers=admin, json={"username": "agent", "password": PW})
    assert r.status_code == 409
    assert r.json()["detail"][0]["loc"] == ["body", "username"]


async def test_last_admin_cannot_demote_itself(client, people, login):
    admin = await login("admin", PW)
    r = await client.patch(
        f"/api/users/{people['admin'].id}", headers=admin, json={"role": "agent"}
    )
    assert r.status_code == 409
    assert r.json()["detail"][0]["loc"] == ["body", "role"]


async def test_mutations_are_audited_and_only_admins_read_the_log(client, people, login):
    await client.post("/api/auth/login", json={"username": "agent", "password": "guess-1"})
    admin = await login("admin", PW)
    r = await client.post("/api/users", headers=admin, json={"username": "newbie", "password": PW})
    new_id = r.json()["id"]
    await client.patch(f"/api/users/{new_id}", headers=admin, json={"display_name": "N"})
    await client.post("/api/users", json={"username": "anon1", "password": PW})  # 401

    for who in ("agent", "sup"):
        r = await client.get("/api/audit", headers=await login(who, PW))
        assert r.status_code == 403
    r = await client.get("/api/audit", headers=admin, params={"limit": 100})
    assert r.status_code == 200
    items = r.json()["items"]
    by_action = {(e["action"], e["actor_name"]): e for e in items}

    post = by_action[("POST /api/users", "admin")]
    assert post["status"] == 201 and post["actor_kind"] == "user"
    assert post["ip"] == "203.0.113.7"
    patch = by_action[(f"PATCH /api/users/{new_id}", "admin")]
    assert patch["target"] == str(new_id) and patch["status"] == 200
    assert by_action[("user.create", "admin")]["target"] == f"user:{new_id}"
    assert by_action[("POST /api/users", "anonymous")]["status"] == 401
    failed = by_action[("auth.login_failed", "agent")]
    assert failed["ip"] == "203.0.113.7"
    assert "guess-1" not in str(items)  # never the password

    r = await client.get("/api/audit", headers=admin, params={"action": "user.", "limit": 1})
    page = r.json()
    assert len(page["items"]) == 1 and page["items"][0]["action"].startswith("user.")
    r = await client.get("/api/audit", headers=admin, params={"actor": "anonymous"})
    assert {e["actor_name"] for e in r.json()["items"]} == {"anonymous"}
    assert (await client.get("/api/audit", headers=admin, params={"limit": 0})).status_code == 422


class _FakeWebSocket:
    """Just enough of starlette's WebSocket for the token helpers."""

    def __init__(self, app, *, query=None, headers=None, subprotocols=()):
        from starlette.websockets import WebSocket

        scope = {
            "type": "websocket",
            "path": "/ws",
            "query_string": (query or "").encode(),
            "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
            "subprotocols": list(subprotocols),
            "app": app,
        }
        self.ws = WebSocket(scope, receive=None, send=None)  # type: ignore[arg-type]


async def test_websocket_principal_from_query_header_or_subprotocol(app, people, login):
    headers = await login("agent", PW)
    token = headers["Authorization"].removeprefix("Bearer ")
    ways = [
        _FakeWebSocket(app, query=f"token={token}"),
        _FakeWebSocket(app, headers=headers),
        _FakeWebSocket(app, subprotocols=["callcenter", f"bearer.{token}"]),
    ]
    for fake in ways:
        assert websocket_token(fake.ws) == token
        principal = await websocket_principal(fake.ws)
        assert principal is not None and principal.username == "agent"
    assert websocket_subprotocol(ways[2].ws) == "callcenter"
    assert await websocket_principal(_FakeWebSocket(app).ws) is None
    assert await websocket_principal(_FakeWebSocket(app, query="token=junk").ws) is None
