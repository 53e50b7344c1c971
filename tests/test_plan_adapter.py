"""The optimiser's adapter on the ledger (both backends): a snapshot reads
the network as the ledger's own views show it (stock net of reservations,
credit headroom, write-off history), and a released plan is ordinary
requisitions, approved under the planner's level, raised once."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import numpy as np
import pytest
from sqlalchemy import func, select, update

from ledger import planning
from ledger.catalog import locations
from ledger.errors import Forbidden, InvalidState, NotFound
from ledger.jobs import JobQueue
from ledger.models import Role
from ledger.money import credit
from ledger.parts import repairs, requisitions
from ledger.parts.requisitions import LineIn
from ledger.parts.warranty import Case
from ledger.policy import SYSTEM
from ledger.users import create_user
from optimizer import adapter, allocate, demand
from optimizer import jobs as plan_jobs
from tests import parts_network as pn

PLANNER = "planner"


@pytest.fixture(autouse=True)
def quick_passwords(monkeypatch):
    """The network's eight users hashed with a light Argon2: these tests are
    about plans, not passwords (the identity tests keep the real cost)."""
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    light = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    monkeypatch.setattr("ledger.users._hasher", light)


def add_planner(session, level: str | None = "L2", username: str = PLANNER) -> None:
    """The network's planner, with an approval level to release plans."""
    create_user(session, username, pn.PASSWORD, Role.PLANNER)
    if level:
        locations.assign_level(session, SYSTEM, username, level)


def planned_network(db, *, level: str | None = "L2") -> None:
    pn.network(db)
    db.transact(lambda s: add_planner(s, level))
    pn.stock(db, "HQ", "P-LCD", 40)
    pn.stock(db, "HQ", "P-BATT", 10)
    pn.stock(db, "RW-S", "P-LCD", 6)
    pn.stock(db, "RW-S", "P-BATT", 8)
    pn.stock(db, "SP-A", "P-BATT", 2)


def _write_off(db, number: str, sku: str, quantity: int, on: date) -> None:
    who = pn.actor(db, "sp-a")

    def work(s):
        today = s.info["window"].today()
        view = repairs.write_off(
            s, who, repair_number=number, customer_serial="860000000000001",
            handset_model="X1", fault="no display",
            case=Case(part_class="handset", reported_on=today,
                      manufactured_on=today - timedelta(days=900),
                      purchased_on=today - timedelta(days=100), proof_of_purchase=True,
                      sold=True),
            parts=[LineIn(sku=sku, quantity=quantity)],
        )  # fmt: skip
        s.execute(
            update(repairs.repair_t)
            .where(repairs.repair_t.c.repair_number == view.repair_number)
            .values(written_off_on=on)
        )

    db.transact(work)


def _last_month(db) -> date:
    with db.reading() as s:
        today = s.info["window"].today()
    return today.replace(day=1) - timedelta(days=1)


def test_a_snapshot_reads_stock_net_of_reservations_credit_and_history(db):
    planned_network(db)
    pn.stock(db, "SP-A", "P-LCD", 4)
    last = _last_month(db)
    _write_off(db, "R-1", "P-LCD", 2, last)
    _write_off(db, "R-2", "P-LCD", 1, last)
    with db.reading() as s:
        today = s.info["window"].today()
    _write_off(db, "R-3", "P-BATT", 1, today)  # counts at once
    _write_off(db, "R-4", "P-BATT", 1, today - timedelta(days=400))  # too old to count
    # Reserved at RW-S for SP-B: no longer available.
    point = pn.actor(db, "sp-b")
    approver = pn.actor(db, "approver1")
    rq = db.transact(
        lambda s: requisitions.create(
            s, point, lines=[LineIn(sku="P-LCD", quantity=4)], submit=True
        )
    )
    db.transact(lambda s: requisitions.approve(s, approver, rq.number))
    with db.reading() as s:
        inst = adapter.snapshot(s, horizon_months=3)
        positions = {p.point: p for p in credit.positions(s, s.info["window"].today())}
    labels = inst.labels
    assert labels.hq == "HQ" and labels.warehouse == ("RW-N", "RW-S")
    # Active points only (SP-OFF is suspended); active priced parts only (P-OLD is inactive).
    assert labels.point == ("SP-A", "SP-B") and labels.part == ("P-BATT", "P-BOARD", "P-LCD")
    assert inst.region.tolist() == [1, 1]
    assert inst.hq.tolist() == [10, 0, 40]
    assert inst.reg.tolist() == [[0, 0, 0], [8, 0, 6 - 4]]
    assert inst.onhand.tolist() == [[0, 0, 1], [0, 0, 0]]  # SP-A used 3 of 4 LCDs, 2 of 2 BATTs
    assert inst.cost.tolist() == [3_000, 50_000, 10_000]
    assert inst.weight.tolist() == [1.0, 1.0, 1.0]
    assert inst.headroom.tolist() == [positions["SP-A"].headroom, positions["SP-B"].headroom]
    # deposit × leverage − (stock + the defective units awaiting return: 3 LCDs, 2 BATTs)
    assert inst.headroom[0] == 2 * pn.DEPOSIT - (1 * 10_000 + 3 * 10_000 + 2 * 3_000)
    # The history that counts: SP-A's 3 LCDs and today's BATT (the 400-day-old
    # one is out), pooled by empirical Bayes within SP-A and SP-B's region.
    expected = demand.in_service_rates(
        np.array([0, 0]),
        np.array([2, 0]),
        np.array([11, 11]),
        np.array([3, 1]),
        P=2,
        K=3,
        months=12,
        region=inst.region,
        horizon_months=3,
    )
    assert inst.lam == pytest.approx(expected)
    # SP-A's own history raises it above its region; SP-B, with none, gets
    # some of the region's rate; a part nobody wrote off has no demand.
    assert inst.lam[0, 2] > inst.lam[1, 2] > 0
    assert inst.lam[0, 2] < 3 / 12 * 3
    assert inst.lam[:, 1].tolist() == [0.0, 0.0]


def test_a_point_over_its_limit_has_no_headroom(db):
    planned_network(db)
    db.transact(lambda s: credit.set_leverage(s, SYSTEM, point="SP-A", ratio="0"))
    with db.reading() as s:
        inst = adapter.snapshot(s)
        position = credit.positions(s, s.info["window"].today())[0]
    assert position.point == "SP-A" and position.headroom < 0
    assert inst.headroom[0] == 0 and inst.headroom[1] > 0


def _record(db, instance, x, ship, who=PLANNER) -> str:
    plan = allocate.Plan(
        x=np.asarray(x, dtype=np.int64), ship=np.asarray(ship, dtype=np.int64),
        objective=1.0, bound=1.0, gap=0.0,
    )  # fmt: skip
    allocate.check_plan(instance, plan)
    actor = pn.actor(db, who)
    return db.transact(
        lambda s: planning.record_plan(
            s, actor, kind="allocation", params={}, summary={},
            data=adapter.pack_allocation(instance, plan),
        )
    ).number  # fmt: skip


def _snapshot(db):
    with db.reading() as s:
        return adapter.snapshot(s)


def _requisitions(db) -> int:
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(requisitions.Requisition))


def test_a_released_plan_is_approved_requisitions_and_a_second_release_raises_nothing(db):
    planned_network(db)
    inst = _snapshot(db)
    # parts: P-BATT, P-BOARD, P-LCD; RW-S holds 8 BATT, 6 LCD; HQ ships 4 LCD more.
    number = _record(db, inst, x=[[3, 0, 5], [2, 0, 5]], ship=[[0, 0, 0], [0, 0, 4]])
    planner = pn.actor(db, PLANNER)
    first = db.transact(lambda s: adapter.release(s, planner, number, key="k1"))
    assert first.plan == number and first.created == len(first.requisitions) == 4
    with db.reading() as s:
        views = [requisitions.get(s, SYSTEM, n) for n in first.requisitions]
        plan = planning.get_plan(s, planner, number)
    by = {(v.requester, v.state): {line.sku: line.approved for line in v.lines} for v in views}
    assert by == {
        ("RW-S", "approved"): {"P-LCD": 4},  # from HQ
        ("SP-A", "approved"): {"P-BATT": 3, "P-LCD": 5},
        ("SP-B", "approved"): {"P-BATT": 2, "P-LCD": 1},  # what RW-S still holds
        ("SP-B", "submitted"): {"P-LCD": None},  # waits for HQ's 4
    }
    waiting = next(v for v in views if v.state == "submitted")
    assert waiting.lines[0].requested == 4 and first.awaiting == (waiting.number,)
    assert all(v.created_by == PLANNER for v in views)
    assert plan.status == "released" and plan.requisitions == list(first.requisitions)
    assert plan.released_by == PLANNER
    assert pn.balance(db, "RW-S:RESERVED:P-LCD") == 6 and pn.balance(db, "RW-S:STOCK:P-LCD") == 0
    assert pn.balance(db, "HQ:RESERVED:P-LCD") == 4
    # Released again (a retry, another key, or the admin): nothing new, the same numbers.
    count = _requisitions(db)
    again = db.transact(lambda s: adapter.release(s, planner, number, key="k2"))
    assert again.requisitions == first.requisitions and again.created == 0
    assert again.awaiting == first.awaiting
    admin = pn.actor(db, "admin")
    assert db.transact(lambda s: adapter.release(s, admin, number, key="k3")).created == 0
    assert _requisitions(db) == count
    pn.sound(db)


def test_release_is_refused_to_a_point_and_to_finance_and_a_plan_of_no_such_number(db):
    planned_network(db)
    number = _record(db, _snapshot(db), x=[[1, 0, 0], [0, 0, 0]], ship=np.zeros((2, 3)))
    for who in ("sp-a", "finance", "clerk"):
        actor = pn.actor(db, who)
        with pytest.raises(Forbidden):
            db.transact(lambda s, a=actor: adapter.release(s, a, number, key="k"))
    with pytest.raises(NotFound):
        db.transact(lambda s: adapter.release(s, pn.actor(db, PLANNER), "PL-999999", key="k"))
    # finance reads it
    with db.reading() as s:
        assert planning.get_plan(s, pn.actor(db, "finance"), number).status == "proposed"
    assert _requisitions(db) == 0


def test_a_point_cannot_take_a_release_key_before_the_planner(db):
    # A point that guesses a plan's number and its own code and raises a
    # requisition under that key first does not block the release.
    planned_network(db)
    number = _record(db, _snapshot(db), x=[[1, 0, 0], [0, 0, 0]], ship=np.zeros((2, 3)))
    point = pn.actor(db, "sp-a")
    for key in (f"{number}/SP-A", f"{number}/SP-A/approve", f"{number}/RW-S"):
        db.transact(
            lambda s, k=key: requisitions.create(
                s, point, lines=[LineIn(sku="P-LCD", quantity=1)], key=k
            )
        )
    planner = pn.actor(db, PLANNER)
    done = db.transact(lambda s: adapter.release(s, planner, number, key="k1"))
    assert done.created == 1
    with db.reading() as s:
        (raised,) = [requisitions.get(s, SYSTEM, n) for n in done.requisitions]
    assert raised.requester == "SP-A" and raised.state == "approved"
    assert raised.created_by == PLANNER


def test_a_planner_without_an_approval_level_is_told_what_to_set_up(db):
    planned_network(db, level=None)
    number = _record(db, _snapshot(db), x=[[1, 0, 0], [0, 0, 0]], ship=np.zeros((2, 3)))
    with pytest.raises(Forbidden, match=r"no active approval level.*approval-level"):
        db.transact(lambda s: adapter.release(s, pn.actor(db, PLANNER), number, key="k"))
    assert _requisitions(db) == 0


def test_a_planner_approves_only_what_they_raised(db):
    planned_network(db)
    point = pn.actor(db, "sp-a")
    rq = db.transact(
        lambda s: requisitions.create(
            s, point, lines=[LineIn(sku="P-LCD", quantity=1)], submit=True
        )
    )
    with pytest.raises(Forbidden, match="raised by sp-a"):
        db.transact(lambda s: requisitions.approve(s, pn.actor(db, PLANNER), rq.number))


def test_a_stale_plan_is_refused_whole_naming_the_point_and_part(db):
    planned_network(db)
    inst = _snapshot(db)
    number = _record(db, inst, x=[[3, 0, 2], [3, 0, 2]], ship=np.zeros((2, 3), dtype=int))
    # Since the snapshot, SP-B's own requisition took 4 of RW-S's 8 batteries.
    point = pn.actor(db, "sp-b")
    rq = db.transact(
        lambda s: requisitions.create(
            s, point, lines=[LineIn(sku="P-BATT", quantity=4)], submit=True
        )
    )
    db.transact(lambda s: requisitions.approve(s, pn.actor(db, "approver1"), rq.number))
    before = _requisitions(db)
    with pytest.raises(InvalidState, match="SP-B's requisition of P-BATT") as refused:
        db.transact(lambda s: adapter.release(s, pn.actor(db, PLANNER), number, key="k"))
    assert refused.value.where["location"] == "SP-B" and refused.value.where["sku"] == "P-BATT"
    assert _requisitions(db) == before  # SP-A's requisition is not left behind
    with db.reading() as s:
        assert planning.get_plan(s, SYSTEM, number).status == "proposed"


def test_a_purchase_plan_is_not_released(db):
    planned_network(db)
    actor = pn.actor(db, PLANNER)
    number = db.transact(
        lambda s: planning.record_plan(s, actor, kind="purchase", params={}, summary={}, data=b"x")
    ).number
    with pytest.raises(InvalidState, match="only an allocation"):
        db.transact(lambda s: adapter.release(s, actor, number, key="k"))


def test_two_releases_at_once_raise_one_set(fresh_db):
    db = fresh_db
    planned_network(db)
    number = _record(db, _snapshot(db), x=[[2, 0, 3], [1, 0, 3]], ship=np.zeros((2, 3)))
    planner = pn.actor(db, PLANNER)
    answers, errors = [], []
    barrier = threading.Barrier(4)

    def go(n):
        barrier.wait()
        try:
            answers.append(db.transact(lambda s: adapter.release(s, planner, number, key=f"t{n}")))
        except Exception as exc:  # pragma: no cover - shown by the assert
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({a.requisitions for a in answers}) == 1
    assert sorted(a.created for a in answers) == [0, 0, 0, 2]
    assert _requisitions(db) == 2
    assert pn.balance(db, "RW-S:RESERVED:P-LCD") == 6


def test_the_job_kinds_record_plans(db):
    planned_network(db)
    pn.stock(db, "SP-A", "P-LCD", 2)
    _write_off(db, "R-1", "P-LCD", 2, _last_month(db))
    queue = JobQueue("memory://", immediate=True, database=db)
    planner = pn.actor(db, PLANNER)
    from ledger import jobs

    job = jobs.enqueue(
        db, "plan_allocation", {"horizon_months": 6, "time_limit": 5}, actor=planner,
        idempotency_key="alloc-1", queue=queue,
    )  # fmt: skip
    with db.reading() as s:
        job = jobs.get_job(s, job.number)
    assert job.status == "succeeded", job.error
    number = job.result["plan"]
    with db.reading() as s:
        view = planning.get_plan(s, planner, number)
        instance, plan = adapter.unpack_allocation(planning.plan_data(s, planner, number))
    assert view.job == job.number and view.kind == "allocation"
    assert view.summary["fill_after"] >= view.summary["fill_before"]
    assert view.summary["gap"] is not None and view.summary["bound"] <= view.summary["objective"]
    assert instance.labels.point == ("SP-A", "SP-B") and plan.x[0, 2] >= 1
    allocate.check_plan(instance, plan)
    # The same key: the same job and plan.
    assert jobs.enqueue(
        db, "plan_allocation", {"horizon_months": 6, "time_limit": 5}, actor=planner,
        idempotency_key="alloc-1", queue=queue,
    ).result["plan"] == number  # fmt: skip
    with pytest.raises(Forbidden):
        jobs.enqueue(db, "plan_allocation", {}, actor=pn.actor(db, "finance"), queue=queue)


def test_a_purchase_job_sizes_an_uploaded_workbook(db, tmp_path):
    from importers.purchase_sheet import write_purchase_template
    from ledger import jobs

    planned_network(db)
    path = tmp_path / "in.xlsx"
    write_purchase_template(path)
    queue = JobQueue("memory://", immediate=True, database=db)
    planner = pn.actor(db, PLANNER)
    job = plan_jobs.start_purchase(
        db, planner, path.read_bytes(), target_fill=0.9, key="buy-1", queue=queue
    )
    with db.reading() as s:
        job = jobs.get_job(s, job.number)
    assert job.status == "succeeded", job.error
    with db.reading() as s:
        view = planning.get_plan(s, planner, job.result["plan"])
        input_, purchase, frontier, lam = adapter.unpack_purchase(
            planning.plan_data(s, planner, view.number)
        )
    assert view.kind == "purchase" and view.summary["fill_rate"] >= 0.9
    assert input_.sku == ("SCR-X1-OLED",) and purchase.qty.shape == (1,) and lam.shape == (1,)
    assert frontier.budget.ndim == 1
    with pytest.raises(Exception, match="xlsx"):
        plan_jobs.start_purchase(db, planner, b"not a workbook", budget=100, queue=queue)


def test_plans_without_codes_or_with_nan_figures_are_refused(db):
    planned_network(db)
    actor = pn.actor(db, PLANNER)
    bare = allocate.Instance(
        lam=np.ones((1, 1)), weight=np.ones(1), cost=np.ones(1, dtype=np.int64),
        hq=np.ones(1, dtype=np.int64), reg=np.zeros((1, 1), dtype=np.int64),
        region=np.zeros(1, dtype=np.int64), headroom=np.full(1, 10, dtype=np.int64),
    )  # fmt: skip
    number = _record(db, bare, x=[[1]], ship=[[1]])
    with pytest.raises(InvalidState, match="without location and part codes"):
        db.transact(lambda s: adapter.release(s, actor, number, key="k"))
    from ledger.errors import InvalidInput

    with pytest.raises(InvalidInput, match="not JSON"):
        db.transact(
            lambda s: planning.record_plan(
                s, actor, kind="allocation", params={}, summary={"gap": float("nan")}, data=b"x"
            )
        )
    with pytest.raises(InvalidInput, match="kind"):
        db.transact(
            lambda s: planning.record_plan(s, actor, kind="guess", params={}, summary={}, data=b"x")
        )
    with pytest.raises(Forbidden):
        db.transact(
            lambda s: planning.record_plan(
                s, pn.actor(db, "finance"), kind="purchase", params={}, summary={}, data=b"x"
            )
        )
