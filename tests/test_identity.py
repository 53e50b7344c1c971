"""Identity: a token counts only while its user exists, is active and keeps
that role and version; admins manage users; failed logins are throttled."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import event, inspect, text
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.security import UserStateCache, issue_token
from ledger import logins, users
from ledger.db import Database
from ledger.errors import InvalidInput, TooManyAttempts
from ledger.migrate import alembic_config, upgrade
from ledger.models import Role
from ledger.policy import SYSTEM, Actor
from ledger.settings import Settings, get_settings
from ledger.types import utcnow
from tests.factories import network
from tests.tokens import SECRET, bearer, ensure_user

PASSWORD = "a-long-password"


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch):
    """Argon2 with small costs: the same code path, a fraction of the time."""
    cheap = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    monkeypatch.setattr(users, "_hasher", cheap)


def make_client(db, cache_seconds: float = 0, **kwargs) -> TestClient:
    settings = Settings(
        secret_key=SECRET, database_url="sqlite://", user_cache_seconds=cache_seconds
    )
    return TestClient(create_app(db=db, settings=settings), **kwargs)


@pytest.fixture
def client(db):
    network(db)
    with make_client(db) as client:
        yield client


def add(db, username: str, role: Role = Role.WAREHOUSE_CLERK, **kwargs) -> None:
    db.transact(lambda s: users.create_user(s, username, PASSWORD, role, **kwargs))


def log_in(client: TestClient, username: str, password: str = PASSWORD):
    return client.post("/auth/token", data={"username": username, "password": password})


def token_of(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    response = log_in(client, username, password)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


# -- tokens ------------------------------------------------------------------------


def test_a_deactivated_users_token_is_refused(client, db):
    add(db, "li.clerk")
    token = token_of(client, "li.clerk")
    assert client.get("/me", headers=token).status_code == 200
    db.transact(lambda s: users.deactivate(s, SYSTEM, "li.clerk"))
    refused = client.get("/me", headers=token)
    assert refused.status_code == 401
    assert "log in again" in refused.json()["detail"]
    assert log_in(client, "li.clerk").status_code == 401
    db.transact(lambda s: users.reactivate(s, SYSTEM, "li.clerk"))
    assert client.get("/me", headers=token).status_code == 401, "reactivating revives no token"
    assert client.get("/me", headers=token_of(client, "li.clerk")).status_code == 200


def test_an_unknown_users_token_is_refused(client):
    token = issue_token(Actor("nobody", Role.ADMIN), SECRET, 5)
    assert client.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_user_states_are_cached_for_their_ttl_without_a_query_per_request(db):
    network(db)
    now = [1000.0]
    statements: list[str] = []
    with make_client(db, cache_seconds=5) as client:
        client.app.state.user_cache = UserStateCache(5, clock=lambda: now[0])
        clerk = bearer(db, Role.WAREHOUSE_CLERK)

        @event.listens_for(db.bind, "before_cursor_execute")
        def count(conn, cursor, statement, *args):
            statements.append(statement)

        try:
            for _ in range(5):
                assert client.get("/me", headers=clerk).status_code == 200
        finally:
            event.remove(db.bind, "before_cursor_execute", count)
        assert sum("app_user" in s for s in statements) == 1
        # Deactivated behind this worker's back: trusted until the TTL passes.
        db.transact(lambda s: users.deactivate(s, SYSTEM, "warehouse_clerk-user"))
        now[0] += 4.9
        assert client.get("/me", headers=clerk).status_code == 200
        now[0] += 0.2
        assert client.get("/me", headers=clerk).status_code == 401
        # Deactivated through this worker: it forgets the user at once.
        finance = bearer(db, Role.FINANCE)
        admin = bearer(db, Role.ADMIN)
        assert client.get("/me", headers=finance).status_code == 200
        done = client.post("/users/finance-user/deactivate", headers=admin)
        assert done.status_code == 200 and done.json()["active"] is False
        assert client.get("/me", headers=finance).status_code == 401


def test_a_token_needs_expiry_and_version(client, db):
    ensure_user(db, "li.clerk", Role.WAREHOUSE_CLERK)
    claims = {"sub": "li.clerk", "role": "warehouse_clerk", "ver": 0}
    expiry = utcnow() + timedelta(minutes=5)

    def me(payload) -> int:
        token = jwt.encode(payload, SECRET, algorithm="HS256")
        return client.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code

    assert me({**claims, "exp": expiry}) == 200
    assert me(claims) == 401
    assert me({"sub": "li.clerk", "role": "warehouse_clerk", "exp": expiry}) == 401
    assert me({**claims, "ver": "0", "exp": expiry}) == 401
    assert me({**claims, "exp": utcnow() - timedelta(seconds=5)}) == 401


def test_a_token_of_a_changed_role_is_refused(client, db):
    network_admin = bearer(db, Role.ADMIN)
    add(db, "li.clerk")
    clerk = token_of(client, "li.clerk")
    # A token that claims a role the user does not have (same version) is refused.
    claimed = issue_token(Actor("li.clerk", Role.ADMIN), SECRET, 5)
    assert client.get("/me", headers={"Authorization": f"Bearer {claimed}"}).status_code == 401
    changed = client.patch("/users/li.clerk", json={"role": "finance"}, headers=network_admin)
    assert changed.status_code == 200 and changed.json()["role"] == "finance"
    assert client.get("/me", headers=clerk).status_code == 401
    assert client.get("/me", headers=token_of(client, "li.clerk")).json()["role"] == "finance"


def test_reset_password_ends_old_tokens_and_the_new_password_works(client, db):
    admin = bearer(db, Role.ADMIN)
    add(db, "li.clerk")
    old = token_of(client, "li.clerk")
    short = client.post("/users/li.clerk/password", json={"password": "short"}, headers=admin)
    assert short.status_code == 422
    reset = client.post(
        "/users/li.clerk/password", json={"password": "another-password"}, headers=admin
    )
    assert reset.status_code == 200
    assert "password" not in reset.text and "hash" not in reset.text
    assert client.get("/me", headers=old).status_code == 401
    assert log_in(client, "li.clerk").status_code == 401
    new = token_of(client, "li.clerk", "another-password")
    assert client.get("/me", headers=new).json()["username"] == "li.clerk"


# -- login throttle ----------------------------------------------------------------


def test_five_failures_lock_the_user_on_that_client_with_retry_after(client, db):
    add(db, "li.clerk")
    add(db, "wang.clerk")
    for _ in range(5):
        assert log_in(client, "li.clerk", "wrong-password").status_code == 401
    locked = log_in(client, "li.clerk")  # even the right password
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "60"
    assert locked.headers["content-type"] == "application/problem+json"
    assert locked.json()["type"] == "/problems/too-many-attempts"
    assert locked.json()["retry_after"] == 60
    # Per user and client: another user, or the same user elsewhere, may log in.
    assert log_in(client, "wang.clerk").status_code == 200
    with TestClient(client.app, client=("10.0.0.7", 50000)) as elsewhere:
        assert log_in(elsewhere, "li.clerk").status_code == 200
    # Unknown users are throttled alike, so a 429 tells nobody who exists.
    for _ in range(5):
        assert log_in(client, "no.such.user").status_code == 401
    assert log_in(client, "no.such.user").status_code == 429
    # The lock ends after Retry-After; a further failure locks twice as long.
    start = utcnow()
    client.app.state.clock = lambda: start + timedelta(seconds=61)
    assert log_in(client, "li.clerk", "wrong-password").status_code == 401
    assert log_in(client, "li.clerk").headers["Retry-After"] == "120"
    client.app.state.clock = lambda: start + timedelta(seconds=61 + 121)
    assert log_in(client, "li.clerk").status_code == 200


def test_a_successful_login_clears_the_failures(client, db):
    add(db, "li.clerk")
    for _ in range(4):
        assert log_in(client, "li.clerk", "wrong-password").status_code == 401
    assert log_in(client, "li.clerk").status_code == 200
    for _ in range(4):
        assert log_in(client, "li.clerk", "wrong-password").status_code == 401
    assert log_in(client, "li.clerk").status_code == 200
    for _ in range(5):
        assert log_in(client, "li.clerk", "wrong-password").status_code == 401
    assert log_in(client, "li.clerk").status_code == 429


def test_the_lock_doubles_up_to_15_minutes_and_is_forgotten_after_quiet(db):
    t0 = utcnow()

    def attempt(at: timedelta) -> int | None:
        try:
            db.transact(lambda s: logins.begin_attempt(s, "li", "1.2.3.4", t0 + at))
        except TooManyAttempts as exc:
            return exc.retry_after
        return None

    assert [attempt(timedelta(minutes=i)) for i in range(5)] == [None] * 5  # 5th locks
    assert attempt(timedelta(minutes=4, seconds=30)) == 30
    waits, at = [], timedelta(minutes=4)
    for _ in range(6):  # each failure after the lock ends locks twice as long
        at += timedelta(seconds=(waits[-1] if waits else 60) + 1)
        assert attempt(at) is None
        waits.append(attempt(at))
    assert waits == [120, 240, 480, 900, 900, 900]
    assert [logins.lock_seconds(n) for n in (4, 5, 6, 100)] == [0, 60, 120, 900]
    # 15 quiet minutes after the lock ended: the pair starts from zero.
    at += timedelta(seconds=900 + 15 * 60 + 1)
    assert [attempt(at) for _ in range(4)] == [None] * 4
    assert attempt(at) is None and attempt(at) == 60


def test_login_names_are_bounded_before_the_database(client):
    # A NUL byte is refused at the door, before the form is read at all.
    for name, field in [("a" * 81, "username"), ("li\x00clerk", "body")]:
        response = log_in(client, name)
        assert response.status_code == 422, name
        assert response.json()["field"] == field


# -- administration ----------------------------------------------------------------


def test_only_admins_manage_users_and_403_comes_before_404(client, db):
    add(db, "li.clerk")
    calls = [
        ("GET", "/users", None),
        ("POST", "/users", {"username": "x.new", "password": PASSWORD, "role": "finance"}),
        ("GET", "/users/{u}", None),
        ("POST", "/users/{u}/deactivate", None),
        ("POST", "/users/{u}/reactivate", None),
        ("PATCH", "/users/{u}", {"role": "finance"}),
        ("POST", "/users/{u}/password", {"password": "another-password"}),
    ]
    for role in [Role.WAREHOUSE_CLERK, Role.FINANCE, Role.APPROVER, Role.PLANNER]:
        headers = bearer(db, role)
        for method, path, body in calls:
            for name in ["li.clerk", "no.such.user"]:
                url = path.replace("{u}", name)
                response = client.request(method, url, json=body, headers=headers)
                assert response.status_code == 403, (role, method, url)
    admin = bearer(db, Role.ADMIN)
    for method, path, body in calls[2:]:
        url = path.replace("{u}", "no.such.user")
        response = client.request(method, url, json=body, headers=admin)
        assert response.status_code == 404, (method, url)
        assert response.json()["username"] == "no.such.user"
    assert client.get("/users/li.clerk", headers=admin).json()["role"] == "warehouse_clerk"


def test_admin_lists_users_by_page_and_filter(client, db):
    admin = bearer(db, Role.ADMIN)
    for name in ["u.c", "u.a", "u.e", "u.b", "u.d"]:
        add(db, name, Role.FINANCE if name in ("u.b", "u.d") else Role.WAREHOUSE_CLERK)
    add(db, "u.sp", Role.SERVICE_POINT, service_point="SP-0002")
    db.transact(lambda s: users.deactivate(s, SYSTEM, "u.e"))
    seen, after = [], None
    while True:
        params = {"limit": 2, **({"after": after} if after else {})}
        page = client.get("/users", params=params, headers=admin).json()
        seen += [u["username"] for u in page["items"]]
        assert len(page["items"]) <= 2
        if not (after := page["next_after"]):
            break
    assert seen == ["admin-user", "u.a", "u.b", "u.c", "u.d", "u.e", "u.sp"]
    finance = client.get("/users?role=finance", headers=admin).json()["items"]
    assert [u["username"] for u in finance] == ["u.b", "u.d"]
    inactive = client.get("/users?active=false", headers=admin).json()["items"]
    assert [(u["username"], u["active"]) for u in inactive] == [("u.e", False)]
    listed = client.get("/users", headers=admin)
    assert "hash" not in listed.text and "$argon2" not in listed.text
    sp = next(u for u in listed.json()["items"] if u["username"] == "u.sp")
    assert (sp["role"], sp["service_point"]) == ("service_point", "SP-0002")


def test_admin_adds_users_and_changes_roles_with_their_point(client, db):
    admin = bearer(db, Role.ADMIN)
    body = {"username": "zhao.sp", "password": PASSWORD, "role": "warehouse_clerk"}
    created = client.post("/users", json=body, headers=admin)
    assert created.status_code == 201
    assert created.json().pop("created_at")
    assert {k: v for k, v in created.json().items() if k != "created_at"} == {
        "username": "zhao.sp",
        "role": "warehouse_clerk",
        "service_point": None,
        "active": True,
    }
    assert client.post("/users", json=body, headers=admin).status_code == 409
    for bad in ["", "zhao sp", "zhao\n", "zhao\x00", "z" * 81]:
        refused = client.post("/users", json={**body, "username": bad}, headers=admin)
        assert refused.status_code == 422, repr(bad)
    url = "/users/zhao.sp"
    unbound = client.patch(url, json={"role": "service_point"}, headers=admin)
    assert unbound.status_code == 422 and unbound.json()["field"] == "service_point"
    not_a_point = client.patch(
        url, json={"role": "service_point", "service_point": "HQ"}, headers=admin
    )
    assert not_a_point.status_code == 422
    bound = client.patch(
        url, json={"role": "service_point", "service_point": "SP-0001"}, headers=admin
    )
    assert bound.status_code == 200 and bound.json()["service_point"] == "SP-0001"
    assert (
        client.get("/me", headers=token_of(client, "zhao.sp")).json()["service_point"] == "SP-0001"
    )
    wrong = client.patch(url, json={"role": "finance", "service_point": "SP-0001"}, headers=admin)
    assert wrong.status_code == 422
    assert client.post("/users/zhao%0A/deactivate", headers=admin).status_code == 422
    assert client.post("/users/" + "z" * 81 + "/deactivate", headers=admin).status_code == 422


def test_an_admin_may_not_lock_themself_out(client, db):
    add(db, "boss", Role.ADMIN)
    boss = token_of(client, "boss")
    refused = client.post("/users/boss/deactivate", headers=boss)
    assert refused.status_code == 409
    assert refused.json()["type"] == "/problems/self-lockout"
    assert "another admin" in refused.json()["detail"]
    assert client.patch("/users/boss", json={"role": "finance"}, headers=boss).status_code == 409
    assert client.get("/me", headers=boss).status_code == 200
    # Another admin may; and the CLI (the system) is the way back in.
    other = bearer(db, Role.ADMIN)
    assert client.post("/users/boss/deactivate", headers=other).status_code == 200
    assert client.get("/me", headers=boss).status_code == 401


def test_usernames_are_matched_whole():
    for bad in ["", "li\n", "li clerk", "li\x00", "l" * 81, "李"]:
        with pytest.raises(InvalidInput):
            users.check_username(bad)
    assert users.check_username("li.clerk_2-b") == "li.clerk_2-b"


# -- the CLI and the migration -------------------------------------------------------


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    upgrade(url)
    yield url
    get_settings.cache_clear()


def test_cli_manages_users(cli_db):
    runner = CliRunner()

    def run(*args: str, input: str | None = None, code: int = 0):
        result = runner.invoke(cli, ["users", *args], input=input)
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        if code == 1:
            assert isinstance(result.exception, SystemExit)
        return result.output

    empty = run("create", "", "--role", "finance", input=f"{PASSWORD}\n", code=1)
    assert "username" in empty and "Password" not in empty
    assert "created" in run("create", "li.fin", "--role", "finance", input=f"{PASSWORD}\n")
    assert "at least 8" in run("create", "li.two", "--role", "finance", input="short\n", code=1)
    run("create", "wang.clerk", "--role", "warehouse_clerk", input=f"{PASSWORD}\n")
    listed = run("list")
    assert "li.fin" in listed and "wang.clerk" in listed and "finance" in listed
    assert "more: --after li.fin" in run("list", "--limit", "1")
    assert "wang.clerk" not in run("list", "--role", "finance")
    assert "inactive" in run("deactivate", "li.fin")
    inactive = run("list", "--inactive")
    assert "li.fin" in inactive and "wang.clerk" not in inactive
    assert "active" in run("reactivate", "li.fin")
    refused = run("role", "li.fin", "--role", "service_point", code=1)
    assert "bound to a point" in refused
    assert "approver" in run("role", "li.fin", "--role", "approver")
    assert "no user nobody" in run("deactivate", "nobody", code=1)
    run("reset-password", "li.fin", input="new-password-1\nnew-password-1\n")
    db = Database.from_url(cli_db)
    try:
        assert logins.log_in(db, "li.fin", PASSWORD, "cli") is None
        done = logins.log_in(db, "li.fin", "new-password-1", "cli")
        assert done is not None and done.actor.role is Role.APPROVER
    finally:
        db.dispose()


def test_migration_0003_goes_down_and_up(databases):
    engine = databases.create()
    config = ScriptDirectory.from_config(alembic_config())
    before = config.get_revision("0003").down_revision
    with engine.begin() as conn:
        command.downgrade(alembic_config(connection=conn), before)
    assert "login_failure" not in inspect(engine).get_table_names()
    assert "token_version" not in {c["name"] for c in inspect(engine).get_columns("app_user")}
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO app_user (username, password_hash, role, active, created_at) "
                "VALUES ('old.user', '!', 'finance', :t, :now)"
            ),
            {"t": True, "now": utcnow().replace(tzinfo=None)},
        )
        upgrade(connection=conn)
    assert "login_failure" in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT token_version FROM app_user")) == 0
