# The two commands: `make run` (start everything) and `make test` (lint + whole suite).
# GNU make. Every target creates what it needs from the pinned requirement files.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-print-directory

API_PORT ?= 8000
RASA_PORT ?= 5005
ACTION_PORT ?= 5055
ACTION_SERVER_URL ?= http://127.0.0.1:$(ACTION_PORT)/webhook
# Rasa's anonymous usage telemetry stays off unless a user turns it on
RASA_TELEMETRY_ENABLED ?= false
export API_PORT RASA_PORT ACTION_PORT ACTION_SERVER_URL RASA_TELEMETRY_ENABLED

API_PYTHON := 3.11
RASA_PYTHON := 3.10
VENV := .venv
RASA_VENV := .venv-rasa
PY := $(VENV)/bin/python
VAR := $(or $(VAR_DIR),var)
RASA := PYTHONPATH=. $(RASA_VENV)/bin/python -m rasa
MODEL := models/current.tar.gz
# everything the model is trained from: a change to any of these retrains it
MODEL_INPUTS := config.yml domain.yml $(shell find data bot/nlu -type f \( -name '*.yml' -o -name '*.txt' -o -name '*.py' \) 2>/dev/null)

.PHONY: help setup run migrate train validate test test-api test-rasa test-stories lint fmt bench bench-nlu bench-assistant bench-gateway clean

help: ## list the targets (this)
	@echo "usage: make TARGET    (the two that matter: make run, make test)"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) \
	  | awk 'BEGIN {FS = ":.*## "} {printf "  %-8s %s\n", $$1, $$2}'

setup: $(VENV)/.installed $(RASA_VENV)/.installed $(VAR) ## create both environments and var/

run: setup migrate $(MODEL) ## set up, migrate, train if data changed, start every process (Ctrl-C stops all)
	@$(PY) -m scripts.banner --api-port $(API_PORT) --rasa-port $(RASA_PORT)
	@echo "==> honcho start (Procfile)"
	@$(VENV)/bin/honcho start --procfile Procfile --env /dev/null

migrate: $(VENV)/.installed ## bring the database (DATABASE_URL) to the latest schema
	@echo "==> python -m api migrate"
	@$(PY) -m api migrate

train: $(MODEL) ## train the Rasa model (only when config, domain, data/ or bot/nlu/ changed)

$(MODEL): $(RASA_VENV)/.installed $(MODEL_INPUTS)
	@echo "==> rasa train (data changed; takes a few minutes on 2 cores)"
	@$(RASA) train --fixed-model-name current --out models --force
	@touch $@

validate: $(RASA_VENV)/.installed ## rasa data validate --fail-on-warnings
	@echo "==> rasa data validate --fail-on-warnings"
	@$(RASA) data validate --fail-on-warnings --quiet

test: setup lint validate $(MODEL) test-api test-rasa test-stories ## set up, lint, validate, train if needed, then every test

test-api: $(VENV)/.installed ## pytest: API, e2e (real processes, the trained model)
	@echo "==> pytest (API, end to end)"
	@$(PY) -m pytest

test-rasa: $(RASA_VENV)/.installed ## pytest in the Rasa environment: actions/ against the real API, what Rasa loads from bot/
	@echo "==> pytest tests/actions tests/rasa_server (Rasa environment)"
	@PYTHONPATH=. $(RASA_VENV)/bin/python -m pytest tests/actions tests/rasa_server \
	  --confcutdir tests/actions -p no:cacheprovider -W ignore::DeprecationWarning

test-stories: $(MODEL) ## rasa test: the test stories (tests/stories) against the model; any wrong prediction fails
	@echo "==> rasa test core --e2e (tests/stories): any wrong prediction fails"
	@PYTHONPATH=. $(RASA_VENV)/bin/python -m tests.rasa_stories

lint: $(VENV)/.installed ## ruff check + ruff format --check
	@echo "==> ruff check, ruff format --check"
	@$(VENV)/bin/ruff check
	@$(VENV)/bin/ruff format --check

fmt: $(VENV)/.installed ## apply ruff's safe fixes and format the code
	$(VENV)/bin/ruff check --fix
	$(VENV)/bin/ruff format

bench: $(VENV)/.installed ## the API benchmark (bench/api.py)
	$(PY) bench/api.py

bench-nlu: $(RASA_VENV)/.installed ## NLU: 5-fold cross-validation and the held-out set: intent macro-F1, entity F1 (bench/nlu.py)
	PYTHONPATH=. $(RASA_VENV)/bin/python bench/nlu.py --holdout

bench-assistant: setup $(MODEL) ## a reply through the REST channel against bare parsing (bench/assistant.py)
	$(PY) bench/assistant.py

bench-gateway: setup $(MODEL) ## a widget message's round trip against Rasa's REST webhook (bench/gateway.py)
	$(PY) bench/gateway.py

clean: ## remove both environments and var/ (the embedded database and secret key!)
	@echo "==> removing $(VENV) $(RASA_VENV) var/"
	rm -rf $(VENV) $(RASA_VENV) var

# $(call ensure-venv,DIR,VERSION): (re)create DIR unless it holds a working Python VERSION
# with a working pip (a venv that was moved or whose interpreter is gone is rebuilt).
define ensure-venv
	@if ! { $(1)/bin/python -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] != "$(2)")' \
	    && $(1)/bin/pip --version; } >/dev/null 2>&1; then \
	  echo "==> creating $(1) with Python $(2)"; \
	  rm -rf $(1); \
	  python=$$(bash scripts/find-python.sh $(2)); \
	  echo "    $$python -m venv $(1)"; \
	  "$$python" -m venv $(1); \
	fi
endef

# The stamp files inside each venv are newer than the requirement files once installed.
$(VENV)/.installed: requirements-dev.txt api/requirements.txt
	$(call ensure-venv,$(VENV),$(API_PYTHON))
	@echo "==> pip install -r requirements-dev.txt into $(VENV)"
	@$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	@touch $@

$(RASA_VENV)/.installed: requirements-rasa.txt constraints-rasa.txt
	$(call ensure-venv,$(RASA_VENV),$(RASA_PYTHON))
	@echo "==> pip install -r requirements-rasa.txt -c constraints-rasa.txt into $(RASA_VENV)" \
	  "(takes a few minutes the first time)"
	@$(RASA_VENV)/bin/pip install --quiet -r requirements-rasa.txt -c constraints-rasa.txt
	@touch $@

$(VAR):
	mkdir -p $@
