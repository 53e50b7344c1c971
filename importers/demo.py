"""A demo national network, loaded through the same services as real data.

HQ, 30 regional warehouses, a few hundred graded service points, six phone
models with 40 parts each, serialized handsets, opening stock everywhere and
the points' deposits, and the parts cycle at work (requisitions in every
state, shipments in transit, a shortage to resolve; importers.demo_cycle) —
enough to try every screen and query. Deterministic:
the same seed gives the same network.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from importers.demo_cycle import actor, parts_cycle
from importers.demo_repairs import repairs_month
from ledger import masterdata as md
from ledger import services
from ledger.catalog import locations as loc
from ledger.catalog import parts as catalog
from ledger.catalog import suppliers as sup
from ledger.catalog.history import MasterDataChange
from ledger.db import Database
from ledger.journal import EntryIn, PostingIn, SerialIn
from ledger.models import Holder, Role
from ledger.money import credit, deposits, periods, settlement, statements, termination
from ledger.parts import purchasing
from ledger.policy import SYSTEM, Actor
from ledger.types import utcnow
from ledger.users import create_user

PROVINCES = [
    ("BJ", "Beijing"), ("TJ", "Tianjin"), ("HE", "Hebei"), ("SX", "Shanxi"),
    ("NM", "Inner Mongolia"), ("LN", "Liaoning"), ("JL", "Jilin"), ("HL", "Heilongjiang"),
    ("SH", "Shanghai"), ("JS", "Jiangsu"), ("ZJ", "Zhejiang"), ("AH", "Anhui"),
    ("FJ", "Fujian"), ("JX", "Jiangxi"), ("SD", "Shandong"), ("HA", "Henan"),
    ("HB", "Hubei"), ("HN", "Hunan"), ("GD", "Guangdong"), ("GX", "Guangxi"),
    ("HI", "Hainan"), ("CQ", "Chongqing"), ("SC", "Sichuan"), ("GZ", "Guizhou"),
    ("YN", "Yunnan"), ("SN", "Shaanxi"), ("GS", "Gansu"), ("QH", "Qinghai"),
    ("NX", "Ningxia"), ("XJ", "Xinjiang"),
]  # fmt: skip
REGIONS = {
    "North China": ["BJ", "TJ", "HE", "SX", "NM"],
    "Northeast China": ["LN", "JL", "HL"],
    "East China": ["SH", "JS", "ZJ", "AH", "FJ", "JX", "SD"],
    "Central China": ["HA", "HB", "HN"],
    "South China": ["GD", "GX", "HI"],
    "Southwest China": ["CQ", "SC", "GZ", "YN"],
    "Northwest China": ["SN", "GS", "QH", "NX", "XJ"],
}
REGION_OF = {abbr: region for region, provinces in REGIONS.items() for abbr in provinces}
# Two cities a province: its capital first, where the regional warehouse sits.
CITIES = {
    "BJ": ["Beijing", "Beijing"], "TJ": ["Tianjin", "Tianjin"], "HE": ["Shijiazhuang", "Tangshan"],
    "SX": ["Taiyuan", "Datong"], "NM": ["Hohhot", "Baotou"], "LN": ["Shenyang", "Dalian"],
    "JL": ["Changchun", "Jilin"], "HL": ["Harbin", "Daqing"], "SH": ["Shanghai", "Shanghai"],
    "JS": ["Nanjing", "Suzhou"], "ZJ": ["Hangzhou", "Ningbo"], "AH": ["Hefei", "Wuhu"],
    "FJ": ["Fuzhou", "Xiamen"], "JX": ["Nanchang", "Ganzhou"], "SD": ["Jinan", "Qingdao"],
    "HA": ["Zhengzhou", "Luoyang"], "HB": ["Wuhan", "Yichang"], "HN": ["Changsha", "Zhuzhou"],
    "GD": ["Guangzhou", "Shenzhen"], "GX": ["Nanning", "Guilin"], "HI": ["Haikou", "Sanya"],
    "CQ": ["Chongqing", "Chongqing"], "SC": ["Chengdu", "Mianyang"], "GZ": ["Guiyang", "Zunyi"],
    "YN": ["Kunming", "Dali"], "SN": ["Xi'an", "Baoji"], "GS": ["Lanzhou", "Tianshui"],
    "QH": ["Xining", "Golmud"], "NX": ["Yinchuan", "Shizuishan"], "XJ": ["Urumqi", "Kashgar"],
}  # fmt: skip
# Demo points that may not requisition: (position in the network, status, why).
NOT_ACTIVE = [
    (3, "suspended", "deposit below the required amount"),
    (6, "suspended", "stock-count discrepancy under review"),
    (9, "terminated", "contract ended"),
]
# (code, name, rank, units, fen): a higher rank never has lower limits.
APPROVAL_LEVELS = [
    ("RM", "Regional manager", 1, 50, 500_000),
    ("HQ-SM", "HQ service manager", 2, 500, 5_000_000),
    ("DIR", "After-sales director", 3, 5_000, 100_000_000),
]
MODELS = ["X1", "X2", "X3", "Y1", "Y2", "Z1"]
PART_TYPES = [
    "LCD", "TP", "BOARD", "BATT", "CHGR", "CABLE", "EARPH", "HSG-F", "HSG-B", "HSG-MID",
    "KEYPAD", "SPK", "RCVR", "MIC", "CAM-F", "CAM-R", "FLASH", "VIB", "ANT", "SIM-TRAY",
    "USB-PORT", "JACK", "FPC-MAIN", "FPC-LCD", "FPC-KEY", "BTN-PWR", "BTN-VOL", "LENS",
    "SHIELD", "SCREW-KIT", "LABEL", "GASKET", "FRAME", "PROX", "GSENSOR", "COMPASS",
    "NFC", "WIFI-MOD", "PA", "CRYSTAL",
]  # fmt: skip
COLOURS = ["black", "white", "blue"]
# Each part type's Chinese name and catalog category.
PART_NAMES = {
    "LCD": ("屏幕", "screen"), "TP": ("触摸屏", "screen"), "BOARD": ("主板", "board"),
    "BATT": ("电池", "battery"), "CHGR": ("充电器", "charger"), "CABLE": ("数据线", "cable"),
    "EARPH": ("耳机", "earphone"), "HSG-F": ("前壳", "housing"), "HSG-B": ("后壳", "housing"),
    "HSG-MID": ("中框", "housing"), "KEYPAD": ("按键板", "keypad"), "SPK": ("扬声器", "audio"),
    "RCVR": ("听筒", "audio"), "MIC": ("麦克风", "audio"), "CAM-F": ("前摄像头", "camera"),
    "CAM-R": ("后摄像头", "camera"), "FLASH": ("闪光灯", "camera"), "VIB": ("振动马达", "motor"),
    "ANT": ("天线", "antenna"), "SIM-TRAY": ("卡托", "housing"),
    "USB-PORT": ("USB 接口", "connector"), "JACK": ("耳机插孔", "connector"),
    "FPC-MAIN": ("主排线", "flex"), "FPC-LCD": ("屏幕排线", "flex"),
    "FPC-KEY": ("按键排线", "flex"), "BTN-PWR": ("电源键", "button"),
    "BTN-VOL": ("音量键", "button"), "LENS": ("镜片", "camera"), "SHIELD": ("屏蔽罩", "board"),
    "SCREW-KIT": ("螺丝套件", "kit"), "LABEL": ("标签", "label"), "GASKET": ("密封圈", "housing"),
    "FRAME": ("支架", "housing"), "PROX": ("距离传感器", "sensor"),
    "GSENSOR": ("重力传感器", "sensor"), "COMPASS": ("电子罗盘", "sensor"),
    "NFC": ("NFC 模块", "module"), "WIFI-MOD": ("WiFi 模块", "module"), "PA": ("功放", "board"),
    "CRYSTAL": ("晶振", "board"),
}  # fmt: skip
# Replaced in warranty, these go back to the factory (the handbook's return
# rules: boards, screens, electronic parts, batteries, earphones).
RETURNABLE = {
    "screen", "board", "battery", "earphone", "charger", "module", "camera", "sensor", "audio",
    "motor", "antenna",
}  # fmt: skip
WARRANTY = {"BATT": "battery", "CHGR": "charger", "CABLE": "accessory", "EARPH": "accessory"}
OUTSIDE = [
    ("OPENING", "Opening balance (go-live)", "opening_balance"),
    ("SUPPLIER", "Parts supplier", "supplier"),
    ("FACTORY", "Factory", "factory"),
    ("CUSTOMERS", "Customers (loaned handsets)", "customer"),
    ("CONSUMED", "Consumed in repair", "consumed"),
    ("SCRAP", "Scrap", "scrap"),
    ("STOCK-COUNT", "Stock-count differences", "count_difference"),
    ("BANK", "Brand bank account", "bank"),
    ("SUBSIDIES", "Service subsidies", "subsidies"),
]
DEPOSIT_FEN = {"A": 5_000_000, "B": 3_000_000, "C": 2_000_000}  # 50,000 / 30,000 / 20,000 CNY
# Deposits are paid in instalments: a first one of 60 % 45 days ago, the
# rest 15 days ago (by bank transfer, or now and then in cash).
FIRST_INSTALMENT_PERCENT = 60
LEVERAGE = {"A": "3", "B": "2.5", "C": "2"}  # 放大比例 by grade
# A point whose deposit was partly refunded on request, leaving it close to
# its credit limit: the next large issue to it is refused.
NEAR_LIMIT = "SP-0002"
# Points with last month's subsidies and charges, settled.
SETTLED_POINTS = 40

# One user per role; the README lists them.
DEMO_USERS = [
    ("admin", Role.ADMIN, None),
    ("clerk", Role.WAREHOUSE_CLERK, None),
    ("approver", Role.APPROVER, None),
    ("finance", Role.FINANCE, None),
    ("planner", Role.PLANNER, None),
    ("sp0001", Role.SERVICE_POINT, "SP-0001"),
]


def demo_password(username: str) -> str:
    return f"{username}-demo"


@dataclass
class DemoSummary:
    holders: int
    parts: int
    accounts: int
    entries: int
    serials: int
    # The parts cycle at work: documents in every state.
    requisitions: int = 0
    in_transit: int = 0
    open_discrepancies: int = 0
    repairs: int = 0


def load_demo(db: Database, *, points: int = 300, seed: int = 7, progress=None) -> DemoSummary:
    """Load the demo network in one transaction. Refuses to load twice."""
    rng = random.Random(seed)
    # Prices draw from their own generator: the network stays what it was.
    prices = random.Random(seed * 7919 + 1)
    return db.transact(lambda s: _load(s, rng, prices, points, progress or (lambda *_: None)))


def is_loaded(session: Session) -> bool:
    return session.scalar(select(Holder.id).where(Holder.code == "HQ")) is not None


def _part_specs(parts: list[str], prices: random.Random) -> list[catalog.PartSpec]:
    """Each part fits its model and costs 2–400 CNY, listed at about 2.5×."""
    specs = []
    for code in parts:
        model, kind = code.split("-", 1)
        zh, category = PART_NAMES[kind]
        cost = prices.randint(20, 4000) * 10
        specs.append(
            catalog.PartSpec(
                sku=code,
                name_zh=f"{model} {zh}",
                name_en=f"{model} {kind.lower().replace('-', ' ')}",
                category=category,
                warranty_class=WARRANTY.get(kind, "handset"),
                returnable=category in RETURNABLE,
                models=(f"H-{model}",),
                standard_cost=cost,
                list_price=round(cost * 2.5 / 10) * 10,
            )
        )
    return specs


def _order_rule(sku: str) -> tuple[str, int, int]:
    """Batteries and chargers: at least 100, in packs of 20; others 50 in 10s."""
    if sku.split("-", 1)[1] in ("BATT", "CHGR"):
        return sku, 100, 20
    return sku, 50, 10


def _load(
    session: Session, rng: random.Random, prices: random.Random, n_points: int, progress
) -> DemoSummary:
    progress("master data")
    md.create_holder(session, "HQ", "HQ customer-service central warehouse", "hq")
    for code, name, kind in OUTSIDE:
        md.create_holder(session, code, name, kind)
    regions = []
    for abbr, province in PROVINCES:
        regions.append(f"RW-{abbr}")
        md.create_holder(
            session, f"RW-{abbr}", f"{province} regional warehouse", "regional_warehouse",
            parent="HQ",
        )  # fmt: skip
    points = []
    for i in range(1, n_points + 1):
        region = regions[(i - 1) % len(regions)]
        grade = rng.choices("ABC", weights=[2, 5, 3])[0]
        code = f"SP-{i:04d}"
        province = PROVINCES[regions.index(region)][1]
        md.create_holder(
            session, code, f"{province} service point {i}", "service_point",
            parent=region, grade=grade,
        )  # fmt: skip
        points.append((code, grade))

    progress("locations")
    _locations(session, points)

    # The catalog: handset models (serialized commodities) with their colours,
    # then every part, fitting its model, priced from the day the demo loads.
    handsets = [f"H-{m}" for m in MODELS]
    for code in handsets:
        catalog.create_model(session, SYSTEM, code, name=f"{code[2:]} handset", colours=COLOURS)
    parts = [f"{m}-{t}" for m in MODELS for t in PART_TYPES]
    specs = _part_specs(parts, prices)
    catalog.create_parts(session, SYSTEM, specs, effective_from=session.info["window"].today())
    md.create_commodity(session, "CNY", "Renminbi (fen)", "money")
    # The supplier's terms: 30 days, and a minimum order in packs of every part.
    sup.add_supplier_row(session, SYSTEM, "SUPPLIER", payment_terms_days=30)
    sup.set_supplier_parts(session, SYSTEM, "SUPPLIER", [_order_rule(p) for p in parts])

    # Who stocks what: HQ everything, a region half its range, a point ~25 parts.
    progress("accounts")
    stocked: dict[str, dict[str, int]] = {"HQ": {p: rng.randint(200, 2000) for p in parts}}
    for region in regions:
        stocked[region] = {p: rng.randint(10, 200) for p in rng.sample(parts, len(parts) // 2)}
    for code, _ in points:
        stocked[code] = {p: rng.randint(1, 10) for p in rng.sample(parts, 25)}
    # The point that left the network holds nothing (its termination below).
    gone = [points[i][0] for i, state, _ in NOT_ACTIVE if state == "terminated" and i < len(points)]
    for code in gone:
        del stocked[code]
    wanted = {("OPENING", "STOCK", c) for c in [*parts, *handsets, "CNY"]}
    wanted |= {(h, "STOCK", p) for h, items in stocked.items() for p in items}
    wanted |= {("HQ", "STOCK", h) for h in handsets}
    wanted |= {
        (code, "STOCK", h) for code, _ in points[:60] for h in handsets[:2] if code not in gone
    }
    wanted.add(("BANK", "STOCK", "CNY"))
    for outside in ("SUPPLIER", "FACTORY", "CUSTOMERS", "CONSUMED", "SCRAP", "STOCK-COUNT"):
        wanted |= {(outside, "STOCK", c) for c in [*parts, *handsets]}
    accounts = md.ensure_accounts(session, wanted)
    # A deposit is what the brand owes the point: credit-normal, and guarded
    # so that no refund exceeds what was paid in.
    deposits = {(code, "DEPOSIT", "CNY") for code, _ in points}
    accounts |= md.ensure_accounts(session, deposits)

    progress("opening stock")
    entries = [
        EntryIn(
            kind="opening",
            memo=f"go-live stock count of {holder}",
            refs={"count": f"GOLIVE-{holder}"},
            postings=[
                line
                for part, qty in sorted(items.items())
                for line in (
                    PostingIn(account=f"OPENING:STOCK:{part}", amount=-qty),
                    PostingIn(account=f"{holder}:STOCK:{part}", amount=qty),
                )
            ],
        )
        for holder, items in stocked.items()
    ]
    # Serialized handsets: 200 of each model at HQ, two swap units at 60 points.
    serial_no = iter(range(1, 10**6))
    holdings = [("HQ", h, 200) for h in handsets]
    holdings += [(code, h, 2) for code, _ in points[:60] for h in handsets[:2] if code not in gone]
    for holder, model, count in holdings:
        units = [
            SerialIn(serial=f"86{rng.randrange(10**12):012d}{next(serial_no) % 10}",
                     colour=rng.choice(COLOURS))
            for _ in range(count)
        ]  # fmt: skip
        entries.append(
            EntryIn(
                kind="opening",
                memo=f"go-live handsets at {holder}",
                postings=[
                    PostingIn(account=f"OPENING:STOCK:{model}", amount=-count, serials=units),
                    PostingIn(account=f"{holder}:STOCK:{model}", amount=count, serials=units),
                ],
            )
        )
    progress("deposits")
    results = services.post(session, SYSTEM, entries)
    _deposit_instalments(session, points)
    for grade, ratio in LEVERAGE.items():
        credit.set_leverage(session, SYSTEM, grade=grade, ratio=ratio, reason="demo policy")

    progress("users")
    for username, role, point in DEMO_USERS:
        create_user(session, username, demo_password(username), role, service_point=point)
    for code, name, rank, units, fen in APPROVAL_LEVELS:
        loc.create_level(
            session, SYSTEM, code=code, name=name, rank=rank, quantity_limit=units,
            amount_limit=fen,
        )  # fmt: skip
    loc.assign_level(session, SYSTEM, "approver", "RM")
    # The planner approves the requisitions a released plan raises, within this level.
    loc.assign_level(session, SYSTEM, "planner", "DIR")
    progress("purchase orders")
    _purchase_orders(session)

    progress("parts cycle")
    inactive = {i for i, *_ in NOT_ACTIVE}
    active = [code for i, (code, _) in enumerate(points) if i not in inactive][:8]
    cycle = parts_cycle(session, stocked, {s.sku: s.standard_cost for s in specs}, active)
    progress("repairs")
    written_off = repairs_month(
        session, session.info["window"].today(), active, actor(session, "sp0001"),
        actor(session, "clerk"),
    )  # fmt: skip
    progress("credit")
    _near_its_limit(session, NEAR_LIMIT)
    progress("settlement")
    _settled_last_month(session, [c for c, _ in points if c not in gone], rng)
    for code in gone:
        termination.terminate(session, SYSTEM, code, reason="contract ended",
                              reference=f"REFUND-{code}-END")  # fmt: skip
    return DemoSummary(
        holders=1 + len(OUTSIDE) + len(regions) + len(points),
        parts=len(parts),
        accounts=len(accounts),
        entries=len(results),
        serials=sum(count for *_, count in holdings),
        requisitions=cycle.requisitions,
        in_transit=cycle.in_transit + written_off.defective_in_transit,
        open_discrepancies=cycle.open_discrepancies,
        repairs=written_off.repairs,
    )


def _deposit_instalments(session: Session, points: list[tuple[str, str]]) -> None:
    """Each point's deposit in two instalments, through finance's receipts."""
    today = session.info["window"].today()
    for i, (code, grade) in enumerate(points):
        first = DEPOSIT_FEN[grade] * FIRST_INSTALMENT_PERCENT // 100
        for n, (fen, days_ago) in enumerate(((first, 45), (DEPOSIT_FEN[grade] - first, 15))):
            deposits.receive(
                session, SYSTEM, code, fen,
                method="cash" if (i + n) % 7 == 0 else "bank_transfer",
                reference=f"DEP-{code}-{n + 1}", on=today - timedelta(days=days_ago),
            )  # fmt: skip


def _settled_last_month(session: Session, points: list[str], rng: random.Random) -> str:
    """Last month, settled: go-live brought each point's unsettled subsidies
    and charges of last month from the old system (opening balances dated in
    it); settling it nets them and writes the statements, a few already
    signed back. This month stays open."""
    today = session.info["window"].today()
    end = today.replace(day=1) - timedelta(days=1)
    month = periods.month_text(end.replace(day=1))
    entries = []
    for code in points[:SETTLED_POINTS]:
        subsidy, charge = rng.randint(3, 40) * 10_000, rng.choice((0, 0, 1, 2, 5)) * 4_500
        postings = [
            PostingIn(account="OPENING:STOCK:CNY", amount=subsidy - charge),
            PostingIn(account=f"{code}:PAYABLE:CNY", amount=-subsidy),
        ]
        if charge:
            postings.append(PostingIn(account=f"{code}:RECEIVABLE:CNY", amount=charge))
        entries.append(
            EntryIn(kind="opening", effective_date=end, refs={"point": code, "month": month},
                    memo=f"go-live: {code}'s unsettled subsidies and charges of {month}",
                    postings=postings)
        )  # fmt: skip
    services.post(session, SYSTEM, entries)
    run = settlement.begin(session, SYSTEM, month)
    settlement.settle_points(session, SYSTEM, month, run.run, settlement.point_ids(session))
    settlement.finish(session, SYSTEM, month, points=len(points))
    for code in points[:SETTLED_POINTS:3]:
        statements.mark_signed_back(session, SYSTEM, month, code)
    return month


def _near_its_limit(session: Session, code: str) -> None:
    """Refund part of `code`'s deposit so that its exposure uses about 95 %
    of its limit."""
    point = md.get_holder(session, code)
    now = credit.positions(session, session.info["window"].today(), point)[0]
    leverage = credit.parse_ratio(now.leverage)
    # The deposit whose limit is the exposure / 0.95, rounded up to ¥100.
    wanted = -(-now.exposure * 100 * 100 // (95 * leverage))
    wanted = -(-wanted // 10_000) * 10_000
    if wanted < now.deposit:
        deposits.refund(
            session, SYSTEM, code, now.deposit - wanted, method="bank_transfer",
            reference=f"REFUND-{code}-1",
        )  # fmt: skip


# Two purchase orders to SUPPLIER at agreed fen per unit, in its minimums and
# packs: one within RM's 5,000.00 CNY (approved, received in part), one beyond
# it (submitted: it waits for a higher level).
DEMO_ORDERS = [
    [("X1-LCD", 50, 3_000), ("X1-BATT", 100, 1_500)],
    [("X2-LCD", 100, 6_000)],
]


def _purchase_orders(session: Session) -> None:
    clerk = Actor("clerk", Role.WAREHOUSE_CLERK)
    approver = Actor("approver", Role.APPROVER)
    expected = session.info["window"].today() + timedelta(days=14)
    made = [
        purchasing.create(
            session,
            clerk,
            supplier="SUPPLIER",
            expected_on=expected,
            submit=True,
            lines=[purchasing.LineIn(sku=s, quantity=q, unit_price=p) for s, q, p in lines],
        )
        for lines in DEMO_ORDERS
    ]
    purchasing.approve(session, approver, made[0].number, reason="regular restock")
    purchasing.receive(session, clerk, made[0].number, lines={1: 30, 2: 100})


def _locations(session: Session, points: list[tuple[str, str]]) -> None:
    """A location row for HQ, every regional warehouse and every point, in
    bulk (one insert for the rows, one for their history): region from the
    province, a city for each point, served by the holder it hangs under."""
    holders = {
        h.code: h
        for h in session.scalars(select(Holder).where(Holder.kind.in_(list(loc.LocationKind))))
    }
    by_id = {h.id: h.code for h in holders.values()}
    place = {"HQ": ("GD", "Shenzhen")}
    for abbr, _ in PROVINCES:
        place[f"RW-{abbr}"] = (abbr, CITIES[abbr][0])
    for i, (code, _) in enumerate(points):
        abbr = PROVINCES[i % len(PROVINCES)][0]
        place[code] = (abbr, CITIES[abbr][(i // len(PROVINCES)) % 2])
    province_name = dict(PROVINCES)
    # A terminated point is terminated by its termination, once it holds nothing.
    status = {
        points[i][0]: (s, why) for i, s, why in NOT_ACTIVE if i < len(points) and s != "terminated"
    }
    now = utcnow()
    rows, changes = [], []
    for code, (abbr, city) in place.items():
        holder = holders[code]
        state, why = status.get(code, ("active", None))
        row = {
            "holder_id": holder.id,
            "region": REGION_OF[abbr],
            "province": province_name[abbr],
            "city": city,
            "served_by_holder_id": holder.parent_id,
            "status": state,
            "status_reason": why,
            "status_changed_at": now,
            "created_at": now,
            "updated_at": now,
        }
        rows.append(row)
        view = loc.LocationOut(
            code=code,
            name=holder.name,
            kind=holder.kind,
            grade=holder.grade,
            served_by=by_id.get(holder.parent_id),
            status=state,
            **{k: row[k] for k in ("region", "province", "city", "status_reason")},
            **{k: now for k in ("status_changed_at", "created_at", "updated_at")},
        )
        changes.append(
            {"entity": "location", "key": code, "actor": SYSTEM.username, "at": now,
             "before": None, "after": view.model_dump(mode="json", exclude=loc.NOT_RECORDED)}
        )  # fmt: skip
    session.execute(insert(loc.Location), rows)
    session.execute(insert(MasterDataChange), changes)
