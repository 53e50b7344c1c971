"""The Beancount export: bean-check must accept it and agree with our balances."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from beancount import loader
from beancount.core import data
from sqlalchemy import func, select

from ledger import masterdata as md
from ledger import queries, services
from ledger.export import account_name, write_beancount
from ledger.journal import EntryIn, PostingIn
from ledger.models import JournalEntry, Posting
from ledger.policy import SYSTEM
from tests.factories import move, network, stock

BEAN_CHECK = Path(sys.executable).parent / "bean-check"
D1, D2 = date(2025, 3, 1), date(2025, 3, 2)
MEMO = 'Courier "SF" \\ box\nsecond line'


def _post(db, *entries: EntryIn):
    return db.transact(lambda s: services.post(s, SYSTEM, list(entries)))


def _build_journal(db) -> None:
    net = network(db)
    a = net.account
    db.transact(
        lambda s: (
            md.create_commodity(s, "X2.CAM_F", "Front camera", "part"),
            md.ensure_accounts(s, [("HQ", "STOCK", "X2.CAM_F"), ("SUP", "STOCK", "X2.CAM_F")]),
        )
    )
    imeis = ["IMEI-0001", "IMEI-0002"]
    stock(db, a("HQ", "X1-LCD"), 10, effective_date=D1)
    stock(db, a("HQ", "H-X1"), 2, serials=imeis, effective_date=D1)
    _post(
        db,
        move(
            a("HQ", "X1-LCD"),
            a("SP-0001", "X1-LCD"),
            3,
            kind="replenishment",
            effective_date=D1,
            memo=MEMO,
            refs={"requisition": "RQ-2025-000123", "Courier No.": "SF 123"},
        ),
        move(a("SUP", "X1-BATT"), a("HQ", "X1-BATT"), 4, kind="purchase", effective_date=D1),
        move(a("FACTORY", "X1-BOARD"), a("HQ", "X1-BOARD"), 2, effective_date=D1),
        move(a("SUP", "X2.CAM_F"), a("HQ", "X2.CAM_F"), 5, effective_date=D1),
        move(a("HQ", "X1-BATT"), a("SCRAP", "X1-BATT"), 1, kind="scrap", effective_date=D2),
        move(a("HQ", "H-X1"), a("SP-0002", "H-X1"), 2, serials=imeis, effective_date=D2),
        EntryIn(
            kind="deposit",
            effective_date=D1,
            postings=[
                PostingIn(account="BANK:STOCK:CNY", amount=12345),
                PostingIn(account="OPEN:STOCK:CNY", amount=-12345),
            ],
        ),
        EntryIn(
            kind="fee",
            effective_date=D2,
            postings=[
                PostingIn(account="BANK:STOCK:CNY", amount=1),
                PostingIn(account="SUP:STOCK:CNY", amount=-1),
            ],
        ),
    )
    sent = _post(
        db,
        move(a("SP-0002", "H-X1"), a("FACTORY", "H-X1"), 1, serials=imeis[1:], effective_date=D2),
    )[0]
    db.transact(lambda s: services.reverse(s, SYSTEM, sent.entry_id))


def _export(db, path: Path) -> dict:
    with db.reading() as s, path.open("w", encoding="utf-8") as out:
        return write_beancount(s, out)


def _bean_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BEAN_CHECK), str(path)], capture_output=True, text=True, timeout=120, check=False
    )


def test_bean_check_accepts_the_export_and_agrees_with_every_balance(db, tmp_path):
    _build_journal(db)
    path = tmp_path / "ledger.beancount"
    summary = _export(db, path)

    result = _bean_check(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""

    entries, errors, _ = loader.load_file(str(path))
    assert errors == []
    computed: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for entry in entries:
        if isinstance(entry, data.Transaction):
            for p in entry.postings:
                computed[p.account, p.units.currency] += p.units.number
    with db.reading() as s:
        accounts = queries.list_accounts(s, SYSTEM, limit=10_000)
        n_entries = s.scalar(select(func.count()).select_from(JournalEntry))
        n_postings = s.scalar(select(func.count()).select_from(Posting))
    names = {
        account_name(a["holder_kind"], a["holder"], a["purpose"], a["commodity"]): a
        for a in accounts
    }
    assert {e.account for e in entries if isinstance(e, data.Open)} == names.keys()
    for name, a in names.items():
        ours = Decimal(a["balance"]).scaleb(-a["decimals"])
        assert computed.pop((name, a["commodity"]), Decimal(0)) == ours, name
    assert computed == {}
    assert summary == {"accounts": len(accounts), "entries": n_entries, "postings": n_postings}

    # Outside parties went negative without Beancount objecting; money is exact.
    assert names["Liabilities:SUP:STOCK:X1-BATT"]["balance"] == -4
    assert names["Assets:FACTORY:STOCK:X1-BOARD"]["balance"] == -2
    assert names["Assets:BANK:STOCK:CNY"]["balance"] == 12346
    assert "balance Assets:BANK:STOCK:CNY 123.46 ~ 0 CNY" in path.read_text()
    assert "open Assets:HQ:STOCK:X2x2eCAMx5fF X2.CAM_F" in path.read_text()

    txns = [e for e in entries if isinstance(e, data.Transaction)]
    sent = next(t for t in txns if t.meta["kind"] == "replenishment")
    assert sent.narration == MEMO
    assert sent.meta["ref-requisition"] == "RQ-2025-000123"
    assert sent.meta["ref-courier_no_"] == "SF 123"
    handsets = next(t for t in txns if t.postings[0].units.currency == "H-X1" and t.date == D2)
    assert [p.meta["serials"] for p in handsets.postings] == ["IMEI-0001,IMEI-0002"] * 2
    reversal = next(t for t in txns if t.meta["kind"] == "reversal")
    assert reversal.meta["reverses"] == reversal.meta["ref-reverses"]
    assert [p.meta["serials"] for p in reversal.postings] == ["IMEI-0002"] * 2


def test_a_balance_off_by_one_fen_fails_bean_check(db, tmp_path):
    _build_journal(db)
    path = tmp_path / "ledger.beancount"
    _export(db, path)
    text, n = re.subn(r"(balance Assets:BANK:STOCK:CNY) 123\.46 ", r"\1 123.47 ", path.read_text())
    assert n == 1
    path.write_text(text)

    result = _bean_check(path)
    assert result.returncode != 0
    assert "Balance failed for 'Assets:BANK:STOCK:CNY'" in result.stdout + result.stderr


def test_an_empty_journal_exports_opens_and_zero_balances(db, tmp_path):
    network(db)
    path = tmp_path / "empty.beancount"
    summary = _export(db, path)
    assert summary["entries"] == summary["postings"] == 0
    assert summary["accounts"] > 0
    result = _bean_check(path)
    assert (result.returncode, result.stderr) == (0, "")
    assert "1970-01-01 open Assets:HQ:STOCK:X1-LCD X1-LCD" in path.read_text()


def test_account_names_are_valid_beancount_and_distinct():
    assert account_name("supplier", "SUP", "STOCK", "X1-LCD") == "Liabilities:SUP:STOCK:X1-LCD"
    assert account_name("hq", "0HQ", "STOCK", "A.B") == "Assets:0HQ:STOCK:Ax2eB"
    assert account_name("hq", "HQ", "STOCK", "A.B") != account_name("hq", "HQ", "STOCK", "A-B")
    assert account_name("hq", "HQ", "STOCK", "Ax2eB") != account_name("hq", "HQ", "STOCK", "A.B")
    with pytest.raises(ValueError):
        account_name("hq", "-HQ", "STOCK", "CNY")
    with pytest.raises(ValueError):
        account_name("hq", "HQ", "STOCK", "货币")
