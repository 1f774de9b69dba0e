# 招商匹配 InvestMatch — see README.md. Every target sets itself up: a fresh clone needs only `make run`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)

.PHONY: setup run demo test eval bench soak lint lock clean check-kb draft-kb import-registry registry-file

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)
	$(BIN)/python -m api.cli setup

run: setup
	$(BIN)/python -m api.cli serve

# The demo: its own database and models under var/demo, filled with the synthetic history (a test
# fixture, never a bureau's data); every page carries a 演示数据 banner and every response X-Demo-Data.
DEMO_ENV := DEMO=1 VAR_DIR=$(CURDIR)/var/demo DATABASE_URL=sqlite:///$(CURDIR)/var/demo/investmatch.db
demo: $(STAMP)
	mkdir -p var/demo
	$(DEMO_ENV) $(BIN)/python -m api.cli setup
	$(DEMO_ENV) $(BIN)/python -m api.cli serve

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# A bureau's registry export (.csv/.xlsx): set up, import in one transaction, retrain and register.
import-registry: registry-file setup
	$(BIN)/python -m api.cli import-registry "$(FILE)" $(if $(BUREAU),--bureau "$(BUREAU)")

registry-file:
	@test -n "$(FILE)" || { echo "用法：make import-registry FILE=登记名录.csv（或 .xlsx）" >&2; exit 2; }

# REGISTRY=path: only the registry split (held-out registered firms), kept beside the others.
eval: $(STAMP)
	$(BIN)/python -m recommender.evaluate $(if $(REGISTRY),--registry $(REGISTRY))

# Draft a knowledge base from a policy document: make draft-kb POLICY=path.txt OUT=dir
draft-kb: $(STAMP)
	@test -n "$(POLICY)" -a -n "$(OUT)" || { echo "用法：make draft-kb POLICY=政策文件.txt OUT=输出目录"; exit 2; }
	$(BIN)/python -m features.draft "$(POLICY)" "$(OUT)"

bench: $(STAMP)
	$(BIN)/python -m benchmarks.bench

# Validate a knowledge base directory (default data/kb): every problem listed in Chinese, non-zero
# exit if any.
check-kb: $(STAMP)
	$(BIN)/python -m features.kb check $(or $(KB),data/kb)

# Bounded load run (about 5 minutes): the service as its own process, 20,000 enterprises imported
# through the API (a generated fixture), 32 clients, mixed traffic → reports/soak.md, per kind.
soak: $(STAMP)
	$(BIN)/python scripts/soak.py

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy features recommender store api

# Re-pin every dependency from a fresh resolve of pyproject.toml.
lock:
	rm -rf /tmp/investmatch-lock && $(PYTHON) -m venv /tmp/investmatch-lock
	/tmp/investmatch-lock/bin/pip install --quiet --upgrade pip
	/tmp/investmatch-lock/bin/pip install --quiet --no-cache-dir -e '.[dev]'
	{ echo "# Pinned versions of every dependency (pip freeze of a fresh 'pip install -e .[dev]')."; \
	  echo "# Regenerate: make lock"; /tmp/investmatch-lock/bin/pip freeze --exclude-editable; } > constraints.txt

clean:
	rm -rf var reports/*.png .pytest_cache
