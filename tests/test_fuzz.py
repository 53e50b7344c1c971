"""A short schemathesis run against the app on each database: generated
requests, valid and invalid, for every operation; none may be a server error.

The long run against a served demo is `make fuzz` (bench/fuzz.py).

(Written as a loop over the operations rather than with
`schemathesis.pytest.from_fixture`, whose lazy loader does not work with this
pytest: `'Function' object has no attribute '_nodeid'`.)
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from api.app import create_app
from ledger.models import Role
from ledger.settings import Settings
from ledger.users import create_user
from tests.factories import network, stock
from tests.tokens import SECRET

# per operation and generation mode; FUZZ_EXAMPLES=50 for a longer look
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))


@pytest.fixture
def fuzzed_app(db):
    network(db)
    stock(db, "HQ:STOCK:X1-LCD", 50)
    db.transact(lambda s: create_user(s, "admin", "admin-fuzz-password", Role.ADMIN))
    return create_app(db=db, settings=Settings(secret_key=SECRET, database_url="sqlite://"))


def login(app) -> dict[str, str]:
    with TestClient(app) as client:
        token = client.post(
            "/auth/token", data={"username": "admin", "password": "admin-fuzz-password"}
        ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def fuzz(operation, mode: GenerationMode, headers: dict, failures: list[str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,  # the same requests every run: no flakes
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case):
        try:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])
        except AssertionError as exc:
            failures.append(f"{operation.label} ({mode}): {exc}")

    try:
        run()
    except Unsatisfiable:
        # No invalid request to make: an operation without parameters.
        assert mode is GenerationMode.NEGATIVE, operation.label


def test_no_generated_request_is_a_server_error(fuzzed_app):
    admin = login(fuzzed_app)
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(result.ok(), mode, admin, failures)
    assert operations >= 15
    assert not failures, "\n\n".join(failures)
