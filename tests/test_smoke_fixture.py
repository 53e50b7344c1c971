from ledger import queries
from ledger.policy import SYSTEM
from tests.factories import network, stock


def test_stock_lands_on_the_account(db):
    net = network(db)
    stock(db, net.account("HQ", "X1-LCD"), 7)
    with db.reading() as s:
        assert queries.balance(s, SYSTEM, "HQ:STOCK:X1-LCD")["balance"] == 7
