"""One full day of the network in the console, every step from the pages
alone, each person at their own browser: a service point raises a
requisition, the approver approves it in part, the clerk ships it, the point
receives it a unit short, writes off a repair, returns the defective part;
the clerk counts a warehouse's stock; finance settles a month and downloads
a statement."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import openpyxl

WAREHOUSE = "RW-BJ"  # SP-0001's warehouse in the demo


def _number(page, prefix: str) -> str:
    found = re.search(rf"{prefix}-[0-9]{{6,12}}", page.url)
    assert found, page.url
    return found.group(0)


def receive_short(page, shipment: str, short_sku: str) -> None:
    page.goto(f"/ui/shipments/{shipment}")
    row = page.locator("[data-testid=receive-lines] tr", has_text=short_sku)
    field = row.locator("input[name^=received_]")
    field.fill(str(int(field.input_value()) - 1))
    page.click("[data-testid=receive]")
    page.wait_for_selector("[data-testid=discrepancies]")
    assert "DS-" in page.inner_text("[data-testid=discrepancies]")


def return_defective(page, sku: str) -> str:
    page.goto("/ui/returns")
    page.check("input[name=defective][value=yes]")
    page.fill("input[name=sku_1]", sku)
    page.fill("input[name=quantity_1]", "1")
    page.click("[data-testid=send-return]")
    page.wait_for_url(re.compile(r"/ui/shipments/SH-"))
    return _number(page, "SH")


def count_stock(clerk, approver, tmp_path) -> None:
    page = clerk.page
    page.goto("/ui/counts/new")
    page.fill("[data-testid=open-count-form] input[name=location]", WAREHOUSE)
    page.click("[data-testid=open-count]")
    page.wait_for_url(re.compile(r"/ui/counts/SC-"))
    number = _number(page, "SC")
    with page.expect_download() as download:
        page.click("[data-testid=download-sheet]")
    sheet = tmp_path / f"{number}.xlsx"
    download.value.save_as(sheet)
    book = openpyxl.load_workbook(sheet)
    ws = book.worksheets[0]
    headers = [cell.value for cell in ws[1]]
    sku_col, book_col = headers.index("SKU 编码"), headers.index("账面数量 Book")
    counted_col = headers.index("实盘数量 Counted")
    short = None
    for row in ws.iter_rows(min_row=2):
        if row[sku_col].value is None:
            continue
        units = int(row[book_col].value or 0)
        if short is None and units > 0:
            short, units = row[sku_col].value, units - 1  # one unit not found
        row[counted_col].value = units
    buffer = io.BytesIO()
    book.save(buffer)
    sheet.write_bytes(buffer.getvalue())
    page.set_input_files("[data-testid=upload-form] input[type=file]", str(sheet))
    page.click("[data-testid=upload]")
    page.wait_for_selector("[data-testid=variances]")
    assert page.inner_text("[data-testid=differing]").strip() == "1"
    assert page.locator(f"[data-testid=variance-{short}]").count() == 1
    page.click("[data-testid=submit-count]")
    page.wait_for_selector("[data-testid=count-state]:has-text('已提交')")

    approver.page.goto(f"/ui/counts/{number}")
    approver.page.click("[data-testid=approve-count]")
    approver.page.wait_for_selector("[data-testid=count-state]:has-text('已批准')")


def settle_and_download_a_statement(admin, finance, month: str, point: str, tmp_path) -> None:
    # The demo settled last month at go-live: an administrator reopens it,
    # and finance settles it again (what arrived since is settled with it).
    page = admin.page
    page.goto(f"/ui/settlement/{month}")
    page.fill("[data-testid=reopen-form] [name=reason]", "补录一笔维修")
    page.click("[data-testid=reopen-submit]")
    page.wait_for_load_state()

    page = finance.page
    page.goto(f"/ui/settlement/{month}")
    page.click("[data-testid=settle-submit]")
    # The job runs in `aftersales worker`; the page follows it live.
    page.wait_for_selector("[data-testid=job][data-status=succeeded]", timeout=120_000)
    page.goto(f"/ui/statements?month={month}")
    with page.expect_download() as download:
        page.click(f"[data-testid=download-{point}]")
    saved = tmp_path / f"{point}-{month}.xlsx"
    download.value.save_as(saved)
    book = openpyxl.load_workbook(saved)
    text = " ".join(str(c.value) for row in book.worksheets[0].iter_rows() for c in row if c.value)
    assert point in text


def write_off_a_repair(page, sku: str, today) -> str:
    page.goto("/ui/repairs/new")
    page.fill("input[name=repair_number]", f"WX-{today:%Y%m%d}-001")
    page.fill("input[name=customer_serial]", "IMEI-86012345678901")
    page.fill("input[name=handset_model]", "X1")
    page.fill("textarea[name=fault]", "电池鼓包，无法开机")
    page.select_option("select[name=part_class]", "battery")
    page.fill(
        "input[name=manufactured_on]", (today.replace(day=1) - timedelta(days=200)).isoformat()
    )
    page.fill("input[name=purchased_on]", (today - timedelta(days=60)).isoformat())
    page.fill("input[name=reported_on]", today.isoformat())
    page.check("input[name=proof_of_purchase]")
    page.locator("textarea[name=fault]").click()  # leave the dates: the rules answer
    # The warranty decision shows as the case is filled in, before anything is written.
    decision = page.wait_for_selector("[data-testid=warranty-decision]")
    assert decision.get_attribute("data-category") in ("WH", "DAP", "DOA")
    first = page.locator("[data-testid=part-line]").first
    first.locator("input[name=sku]").fill(sku)
    first.locator("input[name=quantity]").fill("1")
    page.click("[data-testid=write-off]")
    page.wait_for_url(re.compile(r"/ui/repairs/(?!new)"))
    assert page.locator("[data-testid=repair-category]").count() == 1
    return page.url.rsplit("/", 1)[1]


def raise_requisition(page, lines: dict[str, int]) -> str:
    page.goto("/ui/requisitions/new")
    # Search a part by name and see what the warehouse has, before asking.
    page.fill("[data-testid=part-search-q]", "电池")
    page.wait_for_selector("[data-testid=part-result]")
    rows = page.locator("[data-testid=line]")
    for i, (sku, quantity) in enumerate(lines.items()):
        row = rows.nth(i)
        row.locator("[data-testid=line-sku]").fill(sku)
        row.locator("[data-testid=line-quantity]").fill(str(quantity))
        row.locator("[data-testid=line-quantity]").press("Tab")
        row.locator("[data-testid=line-available]").filter(has_text=WAREHOUSE).wait_for()
    page.click("[data-testid=submit-requisition]")
    page.wait_for_url(re.compile(r"/ui/requisitions/RQ-"))
    assert "已提交" in page.inner_text("[data-testid=state]")
    return _number(page, "RQ")


def approve_in_part(page, number: str, sku: str, units: int) -> None:
    page.goto(f"/ui/requisitions/{number}")
    page.wait_for_selector("[data-testid=point-stock]")  # the point's stock beside it
    form = page.locator("[data-testid=approve-form]")
    row = form.locator("tr", has_text=sku)
    row.locator("[data-testid=approve-quantity]").fill(str(units))
    form.locator("[name=reason]").fill("库存紧张，先批一部分")
    page.click("[data-testid=approve]")
    page.wait_for_selector("[data-testid=state]:has-text('已批准')")


def ship(page, number: str) -> str:
    page.goto("/ui/to-ship")
    page.click(f"text={number}")
    page.wait_for_url(f"**/ui/requisitions/{number}")
    with page.expect_download() as download:
        page.click("[data-testid=pick-list-xlsx]")
    assert download.value.suggested_filename.endswith(".xlsx")
    page.fill("[data-testid=issue-form] [name=courier]", "顺丰速运")
    page.fill("[data-testid=tracking-number]", "SF1234567890")
    page.click("[data-testid=issue]")
    page.wait_for_selector("[data-testid=shipments] a")
    return page.inner_text("[data-testid=shipments] a").strip()


def test_one_full_day(person, tmp_path):
    today = date.today()
    point, approver, clerk = person("sp0001"), person("approver"), person("clerk")
    finance, admin = person("finance"), person("admin")

    number = raise_requisition(point.page, {"X1-BATT": 3, "X1-CHGR": 2})
    approve_in_part(approver.page, number, "X1-CHGR", 1)
    shipment = ship(clerk.page, number)
    assert shipment.startswith("SH-")
    receive_short(point.page, shipment, "X1-BATT")  # two of the three batteries came
    write_off_a_repair(point.page, "X1-BATT", today)
    returned = return_defective(point.page, "X1-BATT")
    clerk.page.goto("/ui/inbound")
    assert returned in clerk.page.inner_text("main")
    count_stock(clerk, approver, tmp_path)
    last_month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    settle_and_download_a_statement(admin, finance, last_month, "SP-0001", tmp_path)
