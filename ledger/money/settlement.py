"""Monthly settlement (结算): every point's subsidies earned minus its charges,
posted as entries, and the month closed.

`begin` starts a run: under the settlement's row lock it marks the month
running and closes it (ledger/money/periods.py), so no entry can be dated
into it while it is settled; a second start meanwhile gets the running one.
`settle_points` then works through the points in chunks, each one unit of
work, reading balances as of the month's last day (never re-deriving history):

- the month's subsidy by grade: SUBSIDIES → the point's PAYABLE, once per
  point and month (a rerun finds it posted);
- the net: the point's RECEIVABLE (charges) and PAYABLE (subsidies) as of
  the last day move to its SETTLED account, the net of the two: credit when
  the brand owes the point, debit when it owes the brand;
- the point's statement row (opening, charges, subsidies, payments, closing).

All of it is dated the month's last day (the journal lets a settlement post
into the month it closed, and nothing else). The entries' idempotency keys
name the month, the run and the point, and a point already settled has
nothing left as of the last day: a chunk committed before a crash is not
posted again when the job resumes, and a rerun of a settled month posts
nothing new. `finish` marks the month settled with its totals.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import documents as docs
from ledger import jobs, journal
from ledger import masterdata as md
from ledger.catalog.locations import Location, LocationStatus
from ledger.db import Database
from ledger.errors import InvalidState, NotFound
from ledger.journal import EntryIn, PostingIn
from ledger.models import Commodity, Holder, HolderKind, Role, User, account_t, entry_t, posting_t
from ledger.money import accruals, credit, periods
from ledger.money.tables import Settlement, Statement
from ledger.policy import Actor
from ledger.types import utcnow
from ledger.users import actor_of

CHUNK = 200
MONEY_PURPOSES = ("RECEIVABLE", "PAYABLE", "SETTLED")
SETTLEMENT_KINDS = ("settlement",)


class SettlementState(enum.StrEnum):
    RUNNING = "running"
    SETTLED = "settled"
    REOPENED = "reopened"


class SettlementView(BaseModel):
    month: str
    state: SettlementState
    run: int
    job: str | None
    started_by: str
    started_at: datetime
    settled_at: datetime | None
    points: int
    entries: int
    payable: int
    receivable: int
    first_open_day: date
    # Set by `begin` when another start of the month was already running.
    already_running: bool = False


def _view(session: Session, row: Settlement, **extra) -> SettlementView:
    return SettlementView(
        month=periods.month_text(row.month),
        state=SettlementState(row.state),
        run=row.run,
        job=row.job,
        started_by=row.started_by,
        started_at=row.started_at,
        settled_at=row.settled_at,
        points=row.points,
        entries=row.entries,
        payable=row.payable,
        receivable=row.receivable,
        first_open_day=periods.view(session).first_open_day,
        **extra,
    )


def _lock(session: Session, first: date) -> Settlement | None:
    return session.scalar(select(Settlement).where(Settlement.month == first).with_for_update())


def begin(session: Session, actor: Actor, month: str, *, job: str | None = None) -> SettlementView:
    """Start settling `month` (YYYY-MM) and close it. If a run is under way,
    its view comes back with `already_running` and nothing changes."""
    docs.require_roles(actor, "settle a month", *credit.FINANCE)
    first = periods.parse_month(month)
    row = _lock(session, first)
    if row is not None and row.state == SettlementState.RUNNING:
        return _view(session, row, already_running=True)
    if row is None and periods.is_closed(session, first):
        raise InvalidState(
            f"{month} was closed without a settlement; an admin must reopen it first",
            month=month,
        )
    periods.close(session, actor, first)
    now = utcnow()
    if row is None:
        row = Settlement(month=first, state=SettlementState.RUNNING.value, run=1, job=job,
                         started_by=actor.username, started_at=now)  # fmt: skip
        session.add(row)
    else:
        row.state, row.run, row.job = SettlementState.RUNNING.value, row.run + 1, job
        row.started_by, row.started_at, row.settled_at = actor.username, now, None
        row.points = row.entries = row.payable = row.receivable = 0
    session.flush()
    docs.step(session, actor, "settlement", row.id, "start", None, row.state,
              detail={"month": month, "run": row.run, "job": job})  # fmt: skip
    return _view(session, row)


def attach_job(session: Session, month: str, job: str) -> None:
    row = _lock(session, periods.parse_month(month))
    row.job = job


def get(session: Session, actor: Actor, month: str) -> SettlementView:
    docs.require_roles(actor, "read settlements", *credit.READERS)
    row = session.scalar(select(Settlement).where(Settlement.month == periods.parse_month(month)))
    if row is None:
        raise NotFound(f"{month} has not been settled", month=month)
    return _view(session, row)


# -- the work, chunk by chunk ------------------------------------------------------------


@dataclass(slots=True)
class Totals:
    entries: int = 0
    payable: int = 0  # owed to points, net
    receivable: int = 0  # owed by points, net


@dataclass(slots=True)
class _Point:
    holder: Holder
    grade: str | None
    eligible: bool  # earns the monthly subsidy


def point_ids(session: Session) -> list[int]:
    """Every service point, in id order: the settlement's work list."""
    return list(
        session.scalars(
            select(Holder.id)
            .where(Holder.kind == HolderKind.SERVICE_POINT.value)
            .order_by(Holder.id)
        )
    )


def _as_of(session: Session, holder_ids: Sequence[int], day: date) -> dict[tuple[int, str], int]:
    """(point, purpose) → balance as of `day` of the points' money accounts:
    the balance less what was posted after the day, in one statement (one
    snapshot, whatever is being posted today)."""
    # Per account, through the (account, date) index: never a scan of the
    # whole journal's later postings.
    later = (
        select(func.coalesce(func.sum(posting_t.c.amount), 0))
        .where(posting_t.c.account_id == account_t.c.id, posting_t.c.effective_date > day)
        .correlate(account_t)
        .scalar_subquery()
    )
    rows = session.execute(
        select(account_t.c.holder_id, account_t.c.purpose, account_t.c.balance - later)
        .join(Commodity, Commodity.id == account_t.c.commodity_id)
        .where(
            account_t.c.holder_id.in_(holder_ids),
            account_t.c.purpose.in_(MONEY_PURPOSES),
            Commodity.code == credit.MONEY,
        )
    )
    return {(holder, purpose): int(amount) for holder, purpose, amount in rows}


def _month_moves(
    session: Session, holder_ids: Sequence[int], first: date, end: date
) -> dict[tuple[int, str], int]:
    """(point, purpose) → what the month's entries other than settlements
    moved on the points' money accounts."""
    rows = session.execute(
        select(account_t.c.holder_id, account_t.c.purpose, func.sum(posting_t.c.amount))
        .select_from(posting_t)
        .join(account_t, account_t.c.id == posting_t.c.account_id)
        .join(entry_t, entry_t.c.id == posting_t.c.entry_id)
        .join(Commodity, Commodity.id == account_t.c.commodity_id)
        .where(
            account_t.c.holder_id.in_(holder_ids),
            account_t.c.purpose.in_(MONEY_PURPOSES),
            Commodity.code == credit.MONEY,
            posting_t.c.effective_date.between(first, end),
            entry_t.c.kind.not_in(SETTLEMENT_KINDS),
        )
        .group_by(account_t.c.holder_id, account_t.c.purpose)
    )
    return {(holder, purpose): int(amount) for holder, purpose, amount in rows}


def _points(session: Session, holder_ids: Sequence[int], end: date) -> list[_Point]:
    zone = session.info["window"].time_zone
    rows = session.execute(
        select(Holder, Location.status, Location.created_at)
        .outerjoin(Location, Location.holder_id == Holder.id)
        .where(Holder.id.in_(holder_ids))
        .order_by(Holder.id)
    ).all()
    out = []
    for holder, status, created_at in rows:
        # A point earns the month's subsidy if it was open by the month's end
        # and is not terminated.
        opened = created_at is None or created_at.astimezone(zone).date() <= end
        eligible = opened and status != LocationStatus.TERMINATED
        out.append(_Point(holder, holder.grade, eligible))
    return out


def _keys_taken(session: Session, keys: Sequence[str]) -> set[str]:
    if not keys:
        return set()
    return set(
        session.scalars(
            select(entry_t.c.idempotency_key).where(entry_t.c.idempotency_key.in_(keys))
        )
    )


def monthly_key(month: str, point: str) -> str:
    return f"settle/{month}/monthly/{point}"


def net_key(month: str, run: int, point: str) -> str:
    return f"settle/{month}/run-{run}/net/{point}"


def settle_points(
    session: Session, actor: Actor, month: str, run: int, holder_ids: Sequence[int]
) -> Totals:
    """Settle one chunk of points (one unit of work): monthly subsidies, the
    nets, the statements. Idempotent: a point already settled posts nothing."""
    first = periods.parse_month(month)
    end = periods.last_day(first)
    points = _points(session, holder_ids, end)
    monthly = accruals.monthly_subsidies_on(session, end)
    taken = _keys_taken(session, [monthly_key(month, p.holder.code) for p in points])
    entries: list[EntryIn] = []
    added: dict[int, int] = defaultdict(int)  # point → monthly subsidy posted now
    for p in points:
        amount = monthly.get(p.grade or "", 0) if p.eligible else 0
        key = monthly_key(month, p.holder.code)
        if amount and key not in taken:
            entries.append(
                EntryIn(
                    kind="subsidy_monthly",
                    effective_date=end,
                    memo=f"monthly subsidy of {p.holder.code} (grade {p.grade}), {month}",
                    refs={"point": p.holder.code, "month": month},
                    postings=accruals.subsidy_postings(session, p.holder.code, amount),
                    idempotency_key=key,
                )
            )
            added[p.holder.id] += amount
    balances = _as_of(session, holder_ids, end)
    totals = Totals()
    nets: dict[int, int] = {}
    for p in points:
        receivable = balances.get((p.holder.id, "RECEIVABLE"), 0)
        payable = balances.get((p.holder.id, "PAYABLE"), 0) - added[p.holder.id]
        net = receivable + payable  # debit-positive: the point owes it
        nets[p.holder.id] = -net
        if not receivable and not payable:
            continue
        code = p.holder.code
        postings = []
        if receivable:
            postings.append(PostingIn(account=_money(code, "RECEIVABLE"), amount=-receivable))
        if payable:
            postings.append(PostingIn(account=_money(code, "PAYABLE"), amount=-payable))
        if net:
            postings.append(PostingIn(account=_money(code, "SETTLED"), amount=net))
        entries.append(
            EntryIn(
                kind="settlement",
                effective_date=end,
                memo=f"settlement of {code}, {month}: "
                + (f"owed to the point {-net / 100:,.2f}" if net <= 0
                   else f"owed by the point {net / 100:,.2f}"),
                refs={"point": code, "month": month, "run": str(run)},
                postings=postings,
                idempotency_key=net_key(month, run, code),
            )
        )  # fmt: skip
        if net < 0:
            totals.payable += -net
        else:
            totals.receivable += net
    row = _lock(session, first)
    if row is None or row.state != SettlementState.RUNNING or row.run != run:
        raise InvalidState(f"{month}'s settlement run {run} is not running", month=month)
    results = journal.post_entries(session, entries, actor=actor.username, settling=end)
    totals.entries = sum(1 for r in results if r.created)
    _write_statements(session, points, first, end, nets)
    # The run's figures move with its entries, in the same unit of work: a
    # chunk that did not commit counts for nothing, one that did for once.
    row.entries += totals.entries
    row.payable += totals.payable
    row.receivable += totals.receivable
    return totals


def _money(point: str, purpose: str) -> str:
    return md.account_code(point, purpose, credit.MONEY)


def _write_statements(
    session: Session, points: list[_Point], first: date, end: date, nets: dict[int, int]
) -> None:
    """Each point's statement of the month, from balances as of the day
    before and the month's moves; a rerun rewrites it (keeping its signed-back
    mark only if nothing changed)."""
    ids = [p.holder.id for p in points]
    before = _as_of(session, ids, first - timedelta(days=1))
    moves = _month_moves(session, ids, first, end)
    existing = {
        row.holder_id: row
        for row in session.scalars(
            select(Statement).where(Statement.month == first, Statement.holder_id.in_(ids))
        )
    }
    now = utcnow()
    for p in points:
        h = p.holder.id
        opening = -sum(before.get((h, purpose), 0) for purpose in MONEY_PURPOSES)
        charges = moves.get((h, "RECEIVABLE"), 0)
        subsidies = -moves.get((h, "PAYABLE"), 0)
        payments = moves.get((h, "SETTLED"), 0)
        closing = opening - charges + subsidies - payments
        figures = dict(opening=opening, charges=charges, subsidies=subsidies, payments=payments,
                       closing=closing, settled=nets.get(h, 0))  # fmt: skip
        row = existing.get(h)
        if row is None:
            if not any(figures.values()):
                continue  # nothing to state: no statement
            session.add(Statement(month=first, holder_id=h, issued_at=now, **figures))
            continue
        if any(getattr(row, k) != v for k, v in figures.items()):
            for k, v in figures.items():
                setattr(row, k, v)
            row.issued_at, row.signed_back_at, row.signed_back_by = now, None, None
    session.flush()


def finish(session: Session, actor: Actor, month: str, *, points: int) -> SettlementView:
    row = _lock(session, periods.parse_month(month))
    if row.state != SettlementState.RUNNING:  # a second worker finished it first
        return _view(session, row)
    row.state = SettlementState.SETTLED.value
    row.points = points
    row.settled_at = utcnow()
    session.flush()
    docs.step(
        session, actor, "settlement", row.id, "finish", SettlementState.RUNNING.value, row.state,
        detail={"run": row.run, "points": row.points, "entries": row.entries,
                "payable": row.payable, "receivable": row.receivable},
    )  # fmt: skip
    return _view(session, row)


def run(
    db: Database,
    actor: Actor,
    month: str,
    *,
    progress: Callable[[int, int], None] = lambda done, total: None,
    chunk: int = CHUNK,
    job: str | None = None,
) -> SettlementView:
    """Settle `month` for every point, chunk by chunk (each its own unit of
    work), after `begin` (or resuming a run begun before: the same run's
    keys). The whole settlement as one call: the job's work, or a test's."""
    started = db.transact(lambda s: _running(s, actor, month, job))
    with db.reading() as s:
        ids = point_ids(s)
    progress(0, len(ids))
    for i in range(0, len(ids), chunk):
        part = ids[i : i + chunk]
        # Each chunk adds its figures to the settlement row in its own commit.
        db.transact(lambda s, part=part: settle_points(s, actor, month, started.run, part))
        progress(min(i + chunk, len(ids)), len(ids))
    return db.transact(lambda s: finish(s, actor, month, points=len(ids)))


def _running(session: Session, actor: Actor, month: str, job: str | None) -> SettlementView:
    """The run to work on: the one running (a resumed job), or a new one."""
    row = _lock(session, periods.parse_month(month))
    if row is not None and row.state == SettlementState.RUNNING:
        if job is not None and row.job is None:
            row.job = job
        return _view(session, row)
    return begin(session, actor, month, job=job)


def reopen(session: Session, actor: Actor, month: str, reason: str) -> SettlementView:
    """Reopen a settled month (an admin's action, recorded): entries may be
    dated into it again, and settling it again posts what changed."""
    docs.require_roles(actor, "reopen a month", Role.ADMIN)
    first = periods.parse_month(month)
    row = _lock(session, first)
    if row is None or row.state != SettlementState.SETTLED:
        raise InvalidState(
            f"{month} is {'not settled' if row is None else row.state}; only a settled month "
            "is reopened",
            month=month,
        )
    periods.reopen(session, actor, first, reason)
    # Reopening a month reopens every month after it: their settlements too.
    later = session.scalars(
        select(Settlement)
        .where(Settlement.month > first, Settlement.state == SettlementState.SETTLED.value)
        .with_for_update()
    )
    for settled_later in [row, *later]:
        settled_later.state = SettlementState.REOPENED.value
    session.flush()
    docs.step(session, actor, "settlement", row.id, "reopen", SettlementState.SETTLED.value,
              row.state, reason=reason)  # fmt: skip
    return _view(session, row)


# -- as a job ------------------------------------------------------------------------------

JOB_KIND = "settlement"


class SettlementParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: str = Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", examples=["2026-11"])
    # Points per unit of work: smaller chunks hold locks for less time.
    chunk: int = Field(default=CHUNK, ge=1, le=1000)


@jobs.job_kind(JOB_KIND, roles=(Role.FINANCE,), params=SettlementParams)
def settlement_job(ctx: jobs.JobContext, params: dict) -> dict:
    """The worker's side of `start`: settle the month as the user who
    started it, reporting points done."""
    with ctx.db.reading() as session:
        who = session.scalar(
            select(User).where(User.username == jobs.get_job(session, ctx.job_id).created_by)
        )
        actor = actor_of(who)
    done = run(
        ctx.db, actor, params["month"], job=ctx.number, chunk=params["chunk"],
        progress=lambda d, t: ctx.progress(d, t, f"{d:,} of {t:,} points settled"),
    )  # fmt: skip
    return {
        "month": done.month, "run": done.run, "points": done.points, "entries": done.entries,
        "payable": done.payable, "receivable": done.receivable,
        "nothing_new": done.entries == 0,
    }  # fmt: skip


def start(
    db: Database, actor: Actor, month: str, *, chunk: int = CHUNK, queue: str | None = None
) -> tuple[SettlementView, jobs.JobView]:
    """Begin settling `month` and hand the work to the job runner. Started
    again while a run is under way (a double click, a second clerk), the same
    run and its job come back; a run whose job was lost gets one."""
    view = db.transact(lambda s: begin(s, actor, month))
    if view.already_running and view.job is not None:
        with db.reading() as session:
            return view, jobs.get_job(session, view.job)
    job = jobs.enqueue(
        db, JOB_KIND, {"month": view.month, "chunk": chunk}, actor=actor,
        idempotency_key=f"settlement/{view.month}/run-{view.run}", queue=queue,
    )  # fmt: skip
    if view.job != job.number:
        db.transact(lambda s: attach_job(s, view.month, job.number))
    return view.model_copy(update={"job": job.number}), job
