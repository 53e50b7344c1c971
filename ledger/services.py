"""Ledger services: what the doors (HTTP, CLI, importers) call to write.

Each checks who may do it, decides what to post, and posts through
`journal.post_entries`. None of them commits: the unit of work does.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import journal
from ledger.codes import split_account_code
from ledger.errors import AlreadyReversed, InvalidEntry, InvalidState, NotFound
from ledger.journal import MAX_KEY, EntryIn, PostingIn, PostResult, SerialIn
from ledger.models import Account, Commodity, HolderKind, Role, entry_t, posting_t, serial_move_t
from ledger.policy import Actor, require_can_post, require_may_post
from ledger.queries import entry_touches


def keyed_batch(entries: Sequence[EntryIn], batch_key: str | None) -> list[EntryIn]:
    """Give each entry without a key of its own "<batch key>/<position>", so a
    retried batch finds every entry it already posted."""
    if batch_key is None:
        return list(entries)
    if not 1 <= len(batch_key) <= MAX_KEY:
        raise InvalidEntry(
            f"a batch's idempotency key is 1 to {MAX_KEY} characters; send a non-empty key or none",
            field="idempotency_key",
        )
    return [
        e if e.idempotency_key else e.model_copy(update={"idempotency_key": f"{batch_key}/{i}"})
        for i, e in enumerate(entries)
    ]


# A point's deposit moves by finance's receipts and refunds (which keep its
# credit limit above what it holds), its settled months by the settlement
# and its payments, both by its termination: not by a raw entry; only an
# admin's raw entry (a correction, recorded as the admin's) may touch them.
# (ledger/money/)
_OWNED_PURPOSES = {"DEPOSIT": "a point's deposit", "SETTLED": "a point's settled months"}
# Entries a document owns: reversed through it (a repair's reverse, a month
# reopened and settled again), never by the raw reverse, which would move
# money the document has already accounted for.
_OWNED_KINDS = {
    "deposit_receipt", "deposit_refund", "termination", "settlement", "subsidy_monthly",
    "settlement_payment", "settlement_collection", "repair_write_off", "repair_reversal",
}  # fmt: skip


def post(session: Session, actor: Actor, entries: Sequence[EntryIn]) -> list[PostResult]:
    """Post entries as `actor`, all or nothing."""
    _require_can_post_to(session, actor, entries)
    for i, entry in enumerate(entries if actor.role is not Role.ADMIN else ()):
        for line, posting in enumerate(entry.postings):
            split = split_account_code(posting.account)
            if split and split[1] in _OWNED_PURPOSES:
                raise InvalidEntry(
                    f"posting {line}: {posting.account} is {_OWNED_PURPOSES[split[1]]}; it "
                    "moves only by finance's documents (POST /deposits/{point}/receipts or "
                    "/refunds, the settlement, /money/points/{point}/payments, the point's "
                    "termination)",
                    account=posting.account,
                    posting=line,
                    **({"entry": i} if len(entries) > 1 else {}),
                )
    return journal.post_entries(session, entries, actor=actor.username)


def _require_can_post_to(session: Session, actor: Actor, entries: Sequence[EntryIn]) -> None:
    """Who may post these entries, decided before anything is written.

    A service point learns nothing of other points: another point's account
    answers exactly as one that does not exist; otherwise it may not post.
    A role that may post nothing is refused before any look-up. The others
    are checked by what they move (the commodities exist or not whoever
    asks; accounts not open yet are opened by the posting)."""
    if actor.role is Role.SERVICE_POINT:
        where = {}
        for i, entry in enumerate(entries):
            if len(entries) > 1:
                where = {"entry": i}
            codes = [p.account for p in entry.postings]
            own = journal.resolve_accounts(session, codes)
            for line, code in enumerate(codes):
                info = own.get(code)
                if info is None or (
                    info.holder_kind == HolderKind.SERVICE_POINT
                    and info.holder_id != actor.holder_id
                ):
                    raise journal.unknown_account(session, code, line, where)
    require_may_post(actor)
    codes = {p.account for e in entries for p in e.postings}
    known = journal.resolve_accounts(session, codes)
    kinds = {info.commodity_kind for info in known.values()}
    unknown = {split[2] for c in codes - known.keys() if (split := split_account_code(c))}
    if unknown:
        kinds |= set(session.scalars(select(Commodity.kind).where(Commodity.code.in_(unknown))))
    require_can_post(actor, kinds)


def reverse(
    session: Session,
    actor: Actor,
    entry_id: uuid.UUID,
    *,
    idempotency_key: str | None = None,
    memo: str = "",
    effective_date: date | None = None,
) -> PostResult:
    """Post the mirror image of an entry: every posting negated, every serial
    moved back. History is never edited; an entry is reversed at most once."""
    if actor.role is not Role.SERVICE_POINT:
        require_may_post(actor)
    journal.check_idempotency_key(idempotency_key)
    original = session.execute(select(entry_t).where(entry_t.c.id == entry_id)).one_or_none()
    if original is not None and actor.role is Role.SERVICE_POINT:
        # Another point's entry answers exactly as one that does not exist.
        original = original if entry_touches(session, entry_id, actor.holder_id) else None
    if original is None:
        raise NotFound(f"entry {entry_id} does not exist", entry_id=str(entry_id))
    require_may_post(actor)
    if original.kind in _OWNED_KINDS:
        raise InvalidState(
            f"entry {entry_id} is a {original.kind}: its document corrects it (a repair's "
            "reverse; a month reopened and settled again), not a raw reversal",
            entry_id=str(entry_id),
        )
    reversed_by = session.execute(
        select(entry_t.c.id, entry_t.c.idempotency_key).where(
            entry_t.c.reverses_entry_id == entry_id
        )
    ).one_or_none()
    # A retry of the same reversal (same key) replays it; anything else is refused.
    if reversed_by is not None and (
        idempotency_key is None or reversed_by.idempotency_key != idempotency_key
    ):
        raise AlreadyReversed(
            f"entry {entry_id} was already reversed by entry {reversed_by.id}",
            entry_id=str(entry_id),
            reversed_by=str(reversed_by.id),
        )
    lines = session.execute(
        select(posting_t.c.line_no, posting_t.c.amount, posting_t.c.account_id, Account.code)
        .join(Account, Account.id == posting_t.c.account_id)
        .where(posting_t.c.entry_id == entry_id)
        .order_by(posting_t.c.line_no)
    ).all()
    moves = session.execute(
        select(
            serial_move_t.c.serial, serial_move_t.c.from_account_id, serial_move_t.c.to_account_id
        )
        .where(serial_move_t.c.entry_id == entry_id)
        .order_by(serial_move_t.c.id)
    ).all()
    # A serial that entered an account now leaves it, and vice versa; on each
    # side every serial goes to one posting even if an account appears twice.
    unassigned = {True: list(moves), False: list(moves)}  # keyed by "was a debit"
    postings = []
    for _, amount, account_id, code in lines:
        pool = unassigned[amount > 0]
        mine = [
            m for m in pool if (m.to_account_id if amount > 0 else m.from_account_id) == account_id
        ][: abs(amount)]
        unassigned[amount > 0] = [m for m in pool if m not in mine]
        serials = [SerialIn(serial=m.serial) for m in mine]
        postings.append(PostingIn(account=code, amount=-amount, serials=serials))
    reversal = EntryIn(
        kind="reversal",
        effective_date=effective_date,
        memo=memo or f"reversal of {entry_id}",
        refs={"reverses": str(entry_id)},
        idempotency_key=idempotency_key,
        postings=postings,
    )
    kinds = {
        a.commodity_kind for a in journal.resolve_accounts(session, {c for *_, c in lines}).values()
    }
    require_can_post(actor, kinds)
    return journal.post_entries(session, [reversal], actor=actor.username, reverses=[entry_id])[0]


__all__ = [
    "Actor",
    "EntryIn",
    "PostResult",
    "PostingIn",
    "Role",
    "SerialIn",
    "keyed_batch",
    "post",
    "reverse",
]
