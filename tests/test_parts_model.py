"""Random sequences of parts-cycle actions against a model of what each
should do (hypothesis), on both databases.

After every action the ledger's balances are the model's: on hand =
available + reserved at the warehouse, in transit toward a holder = shipped
− received − short, every document in the state the model says and legal
for its lines; an action the model says must fail fails and changes
nothing. After every sequence the trial balance is zero and verify() clean.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ledger import queries
from ledger.db import Database
from ledger.errors import LedgerError
from ledger.models import Account, Commodity, Holder
from ledger.parts import receiving, requisitions, shipments
from ledger.parts.requisitions import LineIn
from ledger.parts.shipments import DiscrepancyState
from ledger.policy import SYSTEM
from tests import parts_network as pn

SKUS = ["P-LCD", "P-BATT"]
POINTS = ["SP-A", "SP-B"]
WAREHOUSE = "RW-S"
START = {"P-LCD": 40, "P-BATT": 60}

# Which document an action picks: mostly one it applies to, so that chains
# (create → approve → issue → receive short → resolve) are common; now and
# then any, to check that the wrong state is refused.
index = st.integers(0, 7)


def pick(items: list, i: int, usable=lambda item: True):
    if not items:
        return None
    fits = [item for item in items if usable(item)]
    if i < 2 or not fits:
        return items[i % len(items)]
    return fits[i % len(fits)]


actions = st.one_of(
    st.tuples(
        st.just("create"),
        st.sampled_from(POINTS),
        st.lists(st.sampled_from(SKUS), min_size=1, max_size=2, unique=True),
        st.integers(1, 6),
        st.sampled_from([True, True, True, False]),  # mostly submitted at once
    ),
    st.tuples(st.just("approve"), index, st.sampled_from([0, 0, 0, 1, 2])),
    st.tuples(st.just("reject"), index),
    st.tuples(st.just("cancel"), index),
    # Issues and receipts twice as often: they are what most actions wait for.
    st.tuples(st.just("issue"), index, st.booleans()),
    st.tuples(st.just("receive"), index, st.sampled_from([0, 0, 1, 2])),
    st.tuples(st.just("issue"), index, st.booleans()),
    st.tuples(st.just("receive"), index, st.sampled_from([0, 0, 1, 2])),
    st.tuples(st.just("resolve"), index, st.booleans()),
    st.tuples(st.just("return"), st.sampled_from(POINTS), st.sampled_from(SKUS), st.integers(1, 3)),
)


@dataclass
class Rq:
    number: str
    point: str
    state: str
    lines: list[dict]  # sku, requested, approved, shipped


@dataclass
class Sh:
    number: str
    requisition: Rq | None
    sender: str
    receiver: str
    lines: list[list]  # [sku, quantity, requisition line index]
    state: str = "in_transit"


@dataclass
class Ds:
    number: str
    shipment: Sh
    holder: str
    sku: str
    quantity: int
    state: str = "open"


@dataclass
class Model:
    balances: dict = field(default_factory=lambda: defaultdict(int))
    rqs: list[Rq] = field(default_factory=list)
    shs: list[Sh] = field(default_factory=list)
    dss: list[Ds] = field(default_factory=list)

    def move(self, source: tuple, target: tuple, units: int) -> None:
        self.balances[source] -= units
        self.balances[target] += units

    def settle(self, rq: Rq) -> None:
        """What a requisition becomes once its shipments are received."""
        if rq.state not in ("issued", "received"):
            return
        all_shipped = all(line["shipped"] == line["approved"] for line in rq.lines)
        mine = [s for s in self.shs if s.requisition is rq]
        if all_shipped and all(s.state == "received" for s in mine):
            open_ = any(d.state == "open" for d in self.dss if d.shipment in mine)
            rq.state = "received" if open_ else "closed"


class Player:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.model = Model()
        for sku, units in START.items():
            self.model.balances[(WAREHOUSE, "STOCK", sku)] = units
        self.actors = {name: pn.actor(db, name) for name in ("sp-a", "sp-b", "approver2", "clerk")}

    def who(self, point: str):
        return self.actors[point.lower()]

    def act(self, work):
        try:
            return self.db.transact(work), None
        except LedgerError as exc:
            return None, exc

    def play(self, action: tuple) -> None:
        getattr(self, f"do_{action[0]}")(*action[1:])
        self.check()

    # -- actions, each with the model's prediction ----------------------------------

    def do_create(self, point, skus, quantity, submit):
        lines = [LineIn(sku=sku, quantity=quantity) for sku in skus]
        view, error = self.act(
            lambda s: requisitions.create(s, self.who(point), lines=lines, submit=submit)
        )
        assert error is None, error
        self.model.rqs.append(
            Rq(
                view.number,
                point,
                "submitted" if submit else "draft",
                [{"sku": sku, "requested": quantity, "approved": 0, "shipped": 0} for sku in skus],
            )
        )

    def _rq(self, i, *states: str) -> Rq | None:
        return pick(self.model.rqs, i, lambda rq: rq.state in states)

    def do_approve(self, i, cut):
        rq = self._rq(i, "submitted")
        if rq is None:
            return
        approved = {n + 1: max(0, line["requested"] - cut) for n, line in enumerate(rq.lines)}
        stock = self.model.balances
        expect = (
            rq.state == "submitted"
            and sum(approved.values()) > 0
            and all(
                stock[(WAREHOUSE, "STOCK", line["sku"])] >= approved[n + 1]
                for n, line in enumerate(rq.lines)
            )
        )
        _, error = self.act(
            lambda s: requisitions.approve(s, self.actors["approver2"], rq.number, lines=approved)
        )
        assert (error is None) == expect, (rq, approved, error)
        if expect:
            rq.state = "approved"
            for n, line in enumerate(rq.lines):
                line["approved"] = approved[n + 1]
                self.model.move(
                    (WAREHOUSE, "STOCK", line["sku"]), (WAREHOUSE, "RESERVED", line["sku"]),
                    approved[n + 1],
                )  # fmt: skip

    def do_reject(self, i):
        rq = self._rq(i, "submitted")
        if rq is None:
            return
        _, error = self.act(
            lambda s: requisitions.reject(s, self.actors["approver2"], rq.number, reason="no")
        )
        assert (error is None) == (rq.state == "submitted"), (rq, error)
        if error is None:
            rq.state = "rejected"

    def do_cancel(self, i):
        rq = self._rq(i, "draft", "submitted", "approved")
        if rq is None:
            return
        _, error = self.act(lambda s: requisitions.cancel(s, self.who(rq.point), rq.number))
        assert (error is None) == (rq.state in ("draft", "submitted", "approved")), (rq, error)
        if error is None:
            if rq.state == "approved":
                for line in rq.lines:
                    self.model.move(
                        (WAREHOUSE, "RESERVED", line["sku"]), (WAREHOUSE, "STOCK", line["sku"]),
                        line["approved"] - line["shipped"],
                    )  # fmt: skip
            rq.state = "cancelled"

    def do_issue(self, i, half):
        rq = self._rq(i, "approved", "issued")
        if rq is None:
            return
        left = [line["approved"] - line["shipped"] for line in rq.lines]
        wanted = {n + 1: (u + 1) // 2 if half else u for n, u in enumerate(left)}
        expect = rq.state in ("approved", "issued") and any(left)
        view, error = self.act(
            lambda s: requisitions.issue(
                s, self.actors["clerk"], rq.number, lines=wanted if half else None
            )
        )
        assert (error is None) == expect, (rq, wanted, error)
        if expect:
            rq.state = "issued"
            sent = []
            for n, line in enumerate(rq.lines):
                units = wanted[n + 1]
                if units:
                    line["shipped"] += units
                    sent.append([line["sku"], units, n])
                    self.model.move(
                        (WAREHOUSE, "RESERVED", line["sku"]), (rq.point, "TRANSIT", line["sku"]),
                        units,
                    )  # fmt: skip
            self.model.shs.append(Sh(view.number, rq, WAREHOUSE, rq.point, sent))

    def do_receive(self, i, short):
        sh = pick(self.model.shs, i, lambda sh: sh.state == "in_transit")
        if sh is None:
            return
        first_short = min(short, sh.lines[0][1])
        received = {1: sh.lines[0][1] - first_short}
        receiver = self.actors["clerk"] if sh.receiver == WAREHOUSE else self.who(sh.receiver)
        view, error = self.act(
            lambda s: receiving.receive(s, receiver, sh.number, received=received)
        )
        assert (error is None) == (sh.state == "in_transit"), (sh, error)
        if error is None:
            sh.state = "received"
            for n, (sku, units, _) in enumerate(sh.lines):
                missing = first_short if n == 0 else 0
                self.model.move(
                    (sh.receiver, "TRANSIT", sku), (sh.receiver, "STOCK", sku), units - missing
                )
                if missing:
                    self.model.move(
                        (sh.receiver, "TRANSIT", sku), ("DISCREPANCIES", "TRANSIT", sku), missing
                    )
                    self.model.dss.append(Ds(view.discrepancies[-1], sh, sh.receiver, sku, missing))
            if sh.requisition:
                self.model.settle(sh.requisition)

    def do_resolve(self, i, found):
        ds = pick(self.model.dss, i, lambda ds: ds.state == "open")
        if ds is None:
            return
        outcome = DiscrepancyState.FOUND if found else DiscrepancyState.LOST
        _, error = self.act(
            lambda s: receiving.resolve(
                s, self.actors["clerk"], ds.number, outcome=outcome, reason="checked"
            )
        )
        assert (error is None) == (ds.state == "open"), (ds, error)
        if error is None:
            ds.state = outcome.value
            target = (ds.holder, "STOCK", ds.sku) if found else ("LOST-IN-TRANSIT", "STOCK", ds.sku)
            self.model.move(("DISCREPANCIES", "TRANSIT", ds.sku), target, ds.quantity)
            if ds.shipment.requisition:
                self.model.settle(ds.shipment.requisition)

    def do_return(self, point, sku, quantity):
        expect = self.model.balances[(point, "STOCK", sku)] >= quantity
        view, error = self.act(
            lambda s: receiving.return_parts(
                s, self.who(point), lines=[LineIn(sku=sku, quantity=quantity)]
            )
        )
        assert (error is None) == expect, (point, sku, quantity, error)
        if expect:
            self.model.move((point, "STOCK", sku), (WAREHOUSE, "TRANSIT", sku), quantity)
            self.model.shs.append(Sh(view.number, None, point, WAREHOUSE, [[sku, quantity, None]]))

    # -- what must hold after every action ------------------------------------------

    def check(self) -> None:
        with self.db.reading() as s:
            actual = {
                (holder, purpose, sku): balance
                for holder, purpose, sku, balance in s.execute(
                    select(Holder.code, Account.purpose, Commodity.code, Account.balance)
                    .join(Holder, Holder.id == Account.holder_id)
                    .join(Commodity, Commodity.id == Account.commodity_id)
                    .where(Commodity.code.in_(SKUS), Holder.code != "OPEN")
                )
            }
            for key in set(actual) | set(self.model.balances):
                assert actual.get(key, 0) == self.model.balances.get(key, 0), key
            for rq in self.model.rqs:
                view = requisitions.get(s, SYSTEM, rq.number)
                assert view.state == rq.state, (rq, view.state)
                for line, model_line in zip(view.lines, rq.lines, strict=True):
                    assert 0 <= (line.approved or 0) <= line.requested
                    assert line.shipped == model_line["shipped"] <= (line.approved or 0)
                    assert line.received + line.short <= line.shipped
            # In transit toward each holder = shipped − received − short.
            for holder in {*POINTS, WAREHOUSE}:
                for sku in SKUS:
                    on_the_way = sum(
                        units
                        for sh in self.model.shs
                        if sh.receiver == holder and sh.state == "in_transit"
                        for line_sku, units, _ in sh.lines
                        if line_sku == sku
                    )
                    assert actual.get((holder, "TRANSIT", sku), 0) == on_the_way
            for sh in self.model.shs:
                assert shipments.get(s, SYSTEM, sh.number).state == sh.state


def test_random_action_sequences_keep_the_ledger_and_documents_consistent(db):
    pn.network(db)
    for sku, units in START.items():
        pn.stock(db, WAREHOUSE, sku, units)
    conn = db.bind

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.lists(actions, min_size=10, max_size=40))
    def run(sequence):
        savepoint = conn.begin_nested()
        try:
            # A Database per sequence: its account cache must not outlive the rollback.
            player = Player(Database(conn))
            for action in sequence:
                player.play(action)
            with player.db.reading() as s:
                assert all(row["net"] == 0 for row in queries.trial_balance(s))
                assert queries.verify(s) == []
        finally:
            savepoint.rollback()

    run()
