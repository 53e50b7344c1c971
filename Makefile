# Two commands on a fresh machine (Python 3.11 and make):
#   make run   - set up, migrate a SQLite file, load the demo, serve on :8000 (and run jobs)
#   make test  - set up, lint, check import direction, run the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint format browser-deps messages bench bench-http bench-stock bench-cycle bench-parts bench-repairs bench-count bench-settle bench-plan fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The job worker runs beside the server as a process of its own (never a
# thread of the web process), and stops when the server does.
run: $(STAMP)
	$(BIN)/aftersales db upgrade
	$(BIN)/aftersales demo
	$(BIN)/aftersales worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/aftersales serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: lint browser-deps
	$(BIN)/pytest

# The console's browser tests drive Debian's chromium with a CJK font. As root
# on Debian they are installed here when missing; elsewhere the tests say what
# is missing and are skipped (with CI=true they fail instead).
BROWSER_PACKAGES := chromium fonts-noto-cjk
browser-deps:
	@if command -v chromium >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q .; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing $(BROWSER_PACKAGES) for the browser tests"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q $(BROWSER_PACKAGES) >/dev/null 2>&1 \
		|| { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $(BROWSER_PACKAGES) >/dev/null; } \
		|| echo "could not install $(BROWSER_PACKAGES): the browser tests will be skipped"; \
	else \
		echo "the browser tests need Debian's $(BROWSER_PACKAGES) (run 'make browser-deps' as root)"; \
	fi

# The console's strings that a catalogue does not translate yet, as .po entries.
messages: $(STAMP)
	$(BIN)/python -m api.web.catalogue zh_CN

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/ledger_post.py

bench-http: $(STAMP)
	$(BIN)/python bench/http_load.py

# A location's stock view beside the bare SQL of its query: see bench/README.md.
bench-stock: $(STAMP)
	$(BIN)/python bench/stock_view.py

# The parts cycle over HTTP beside the same movements as plain entries.
bench-cycle: $(STAMP)
	$(BIN)/python bench/requisition_cycle.py

# Repairs written off over HTTP beside POST /entries of the same postings, on
# SQLite and PostgreSQL (BENCH_REPAIRS_ROUNDS=12 for a longer run): see
# bench/README.md.
bench-repairs: $(STAMP)
	$(BIN)/python bench/repair_write_off.py

# The parts issue's two benchmarks, one after the other: the stock view, then
# the requisition cycle (see bench/README.md).
bench-parts: $(STAMP)
	$(BIN)/python bench/stock_view.py
	$(BIN)/python bench/requisition_cycle.py

# A 20,000-part stock count, opening to posted variances, beside the bare
# posting of the same variance entries: see bench/README.md.
bench-count: $(STAMP)
	$(BIN)/python bench/stock_count.py

# A month's settlement, its statements and the credit check at issue, each
# beside its baseline, on SQLite and PostgreSQL: see bench/README.md.
bench-settle: $(STAMP)
	$(BIN)/python bench/settlement.py

# Planning: the national allocation beside the planners' spreadsheet method,
# then the purchase frontier of a 5,000-part model: see bench/README.md.
bench-plan: $(STAMP)
	$(BIN)/python bench/plan_allocate.py
	$(BIN)/python bench/plan_purchase.py

# schemathesis against the served demo on SQLite and PostgreSQL, FUZZ_SECONDS
# (default 120) per database: see README "Fuzzing".
fuzz: $(STAMP)
	$(BIN)/python bench/fuzz.py

clean:
	rm -rf $(VENV) var build .pytest_cache .ruff_cache .hypothesis
