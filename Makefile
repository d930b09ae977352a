# Two commands matter: `make demo` and `make test`. Both install what they need into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-celery.txt requirements-dev.txt constraints.txt | cksum | cut -d' ' -f1)
# make airflow EXECUTOR=celery: two Celery workers instead of the LocalExecutor
EXECUTOR ?= local
export PYTHONPATH := $(CURDIR)

.PHONY: install demo airflow bench bench-fleet test test-fast stack-start stack-stop stack-status migrate simulator blacklist-sync compliance-doc blacklist-import dnc-import clean

$(STAMP): requirements.txt requirements-celery.txt requirements-dev.txt constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-celery.txt -c constraints.txt
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

demo: install          ## a 2,400-contact campaign end to end on the embedded stack
	$(BIN)/python -m dev.demo

airflow: install       ## the full Airflow 3 stack and UI on the embedded stack (EXECUTOR=celery: 2 workers); Ctrl-C stops it
	AIRFLOW_LOCAL_EXECUTOR=$(EXECUTOR) $(BIN)/python -m dev.airflow_local

bench: install         ## the benchmarks of issue 5 (own stack in .stack/bench, fauxqs from npm); under 15 min
	@test -f .stack/bench/fauxqs/node_modules/fauxqs/package.json || npm install --prefix .stack/bench/fauxqs \
		--no-audit --no-fund --loglevel=error fauxqs@1.9.2
	CAMPAIGN_STACK_DIR=$(CURDIR)/.stack/bench $(BIN)/python -m benchmarks

bench-fleet: install   ## N campaigns poking every 60 s under the real scheduler, LocalExecutor and Celery
	CAMPAIGN_STACK_DIR=$(CURDIR)/.stack/bench-fleet $(BIN)/python -m benchmarks.fleet

test: install          ## the whole suite; starts its own embedded stack under .stack/test
	$(BIN)/python -m dev.suite

test-fast: install     ## unit and property tests only: no services
	$(BIN)/python -m pytest tests/unit

stack-start: install
	$(BIN)/python -m dev.stack start

stack-stop:
	$(BIN)/python -m dev.stack stop

stack-status:
	$(BIN)/python -m dev.stack status

migrate: stack-start   ## apply campaign-database migrations (idempotent)
	eval "$$($(BIN)/python -m dev.stack env)" && $(BIN)/python -m include.campaigns.migrations

simulator: stack-start ## run the dialer simulator in the foreground
	eval "$$($(BIN)/python -m dev.stack env)" && $(BIN)/python -m dev.dialer_simulator

blacklist-sync: stack-start ## warm the Redis opt-out set from PostgreSQL
	eval "$$($(BIN)/python -m dev.stack env)" && $(BIN)/python -m include.campaigns.blacklist

compliance-doc: install ## regenerate docs/compliance.md from include/campaigns/rules/*.json
	$(BIN)/python -m include.campaigns.compliance_doc

blacklist-import: stack-start ## import a file of numbers onto the blacklist: FILE=... [REASON=...] [CAMPAIGN=id] [EXPIRES=iso]
	@test -n "$(FILE)" || { echo "usage: make blacklist-import FILE=numbers.csv [REASON=do_not_call] [CAMPAIGN=id] [EXPIRES=2027-01-01T00:00:00+00:00]"; exit 2; }
	eval "$$($(BIN)/python -m dev.stack env)" && $(BIN)/python -m include.campaigns.blacklist_import "$(FILE)" \
		--reason "$(or $(REASON),do_not_call)" $(if $(CAMPAIGN),--campaign-id "$(CAMPAIGN)") $(if $(EXPIRES),--expires-at "$(EXPIRES)")

dnc-import: stack-start ## load a do-not-call registry or vendor extract onto the blacklist: FILE=... SOURCE=... AS_OF=YYYY-MM-DD
	@test -n "$(FILE)" -a -n "$(SOURCE)" -a -n "$(AS_OF)" || { echo "usage: make dnc-import FILE=extract.csv SOURCE='National DNC Registry' AS_OF=2026-11-20"; exit 2; }
	eval "$$($(BIN)/python -m dev.stack env)" && $(BIN)/python -m include.campaigns.blacklist_import "$(FILE)" \
		--reason do_not_call --source "$(SOURCE)" --as-of "$(AS_OF)"

clean: stack-stop
	rm -rf .stack
