# Every target bootstraps what it needs: a fresh clone with only Python 3.11 is enough.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
DB ?= data/articles.duckdb
SOURCES ?= seeds
AIRFLOW_PORT ?= 8080
AIRFLOW_HOST ?= 127.0.0.1
# Shown by `make help` with their values in place of the $(NAME)s of the targets' comments.
HELP_VARS := DB SOURCES AEB FUNDUS ECBPLUS AIRFLOW_PORT AIRFLOW_HOST
AEB ?= ../shared/corpora/aeb
FUNDUS ?= ../shared/corpora/fundus
ECBPLUS ?= ../shared/corpora/ecbplus
# pytest-xdist workers for `make test` (the suite waits on subprocesses, servers and Airflow: 2 on 2 cores
# took it from 12-15 min to under 10); TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
export PATH := $(CURDIR)/$(BIN):$(PATH)
export GX_ANALYTICS_ENABLED := false

.PHONY: help setup run test test-cluster eval bench profile quality lint format airflow cluster clean clean-data
CLUSTER_STAMP := $(VENV)/.cluster-installed

help:  ## list the targets (defaults shown; override any, e.g. make run SOURCES=feeds.txt)
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}' \
	  | sed $(foreach v,$(HELP_VARS),-e 's|\$$($(v))|$($(v))|g')

$(STAMP): requirements.txt pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or pass PYTHON=..." >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv==0.13.8
	@# Bytecode now, not at each import: with PYTHONDONTWRITEBYTECODE set, every run compiled GX, pandas and
	@# trafilatura again (7.3 s to import them, 3.4 s from .pyc).
	$(BIN)/uv pip install --quiet --python $(PY) -r requirements.txt
	@$(PY) -m compileall -qq -j 0 $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') || true  # a few test files of dependencies do not compile
	@# Make `pipeline` importable from anywhere in the venv (Airflow's workers do not start in this folder), with
	@# its console command: .venv/bin/article-pipeline (what the CLI's hints print); evals/ and bench/ too.
	$(BIN)/uv pip install --quiet --python $(PY) --no-deps -e .
	@$(PY) -c "import site, sys; open(site.getsitepackages()[0] + '/article_pipeline.pth', 'w').write(sys.argv[1])" "$(CURDIR)"
	@touch $(STAMP)

setup: $(STAMP)  ## create .venv and install the pinned dependencies

run: $(STAMP)  ## ingest seeds/ (or SOURCES=...) into $(DB) and print a summary
	$(PY) -m pipeline ingest $(SOURCES) --db $(DB)

test: $(STAMP)  ## lint, then the whole test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/ruff check dags --select AIR3
	@# The browser test (tests/e2e) drives Debian's chromium; install it when missing (sudo unless root).
	@[ "$$SKIP_AIRFLOW_E2E" = 1 ] || command -v chromium >/dev/null || { S=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$S apt-get update -qq && $$S apt-get install -y -qq chromium; }
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --ignore=tests/cluster

# The cluster's pieces: Debian's PostgreSQL and Redis (sudo unless root), the Python packages of requirements-cluster.txt.
$(CLUSTER_STAMP): $(STAMP) requirements-cluster.txt
	@command -v redis-server >/dev/null && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { \
	  S=$$([ "$$(id -u)" = 0 ] || echo sudo); $$S apt-get update -qq && $$S apt-get install -y -qq postgresql redis-server; }
	$(BIN)/uv pip install --quiet --python $(PY) -r requirements.txt -r requirements-cluster.txt
	@touch $(CLUSTER_STAMP)

test-cluster: $(CLUSTER_STAMP)  ## article_ingest on PostgreSQL + Redis + 2 Celery workers + S3 staging, rows vs the CLI's
	$(PY) -m pytest -q -p no:xdist tests/cluster -s

eval: $(STAMP)  ## extraction vs trafilatura on $(AEB) and $(FUNDUS); dedupe; stories vs TF-IDF on $(ECBPLUS)
	$(PY) -m evals.extraction --corpus aeb=$(AEB) --corpus fundus=$(FUNDUS)
	$(PY) -m evals.dedupe --corpus $(AEB)
	$(PY) -m evals.stories --corpus $(ECBPLUS)

bench: $(STAMP)  ## eval figures vs issue 21's start, HTML end to end vs plain trafilatura, 10k/100k text runs, dedupe, load, Airflow imports -> docs/benchmarks.md; story assignment
	$(PY) -m bench.run --aeb $(AEB) --fundus $(FUNDUS) --ecbplus $(ECBPLUS) --json data/bench/report.json
	$(PY) -m bench.stories --json data/bench/stories.json

profile: $(STAMP)  ## profile a run of $(SOURCES) in one process (pyinstrument) -> data/bench/profile.html
	@mkdir -p data/bench && rm -f data/bench/profile.duckdb*
	$(PY) -m pyinstrument -r html -o data/bench/profile.html -m pipeline ingest $(SOURCES) \
	  --db data/bench/profile.duckdb --workers 0
	@echo "profile written to data/bench/profile.html"

quality: $(STAMP)  ## ingest $(SOURCES) into $(DB) and write the validation report (GX Data Docs) to data/quality/
	$(PY) -m pipeline ingest $(SOURCES) --db $(DB) --data-docs data/quality

lint: $(STAMP)  ## ruff lint + format check, and Airflow 3 rules on dags/
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/ruff check dags --select AIR3

format: $(STAMP)  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

airflow: $(STAMP)  ## start Airflow with dags/ on $(AIRFLOW_HOST):$(AIRFLOW_PORT) (no login: every visitor is an admin)
	AIRFLOW_HOST=$(AIRFLOW_HOST) AIRFLOW_PORT=$(AIRFLOW_PORT) bash scripts/airflow-standalone.sh

cluster: $(CLUSTER_STAMP)  ## start that cluster locally (cluster_home/, UI on 127.0.0.1:$(AIRFLOW_PORT)); Ctrl-C stops it
	$(PY) scripts/cluster.py --home cluster_home --port $(AIRFLOW_PORT)

clean:  ## remove caches, test artefacts and data/bench/ (keeps your data, airflow_home/ and .venv)
	rm -rf .pytest_cache .ruff_cache test-artifacts data/bench
	find . -path ./$(VENV) -prune -o -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

clean-data:  ## DELETE data/ (database, inbox, staged runs) and airflow_home/: asks first, or CONFIRM=yes
	@if [ "$(CONFIRM)" != yes ]; then \
	  if [ ! -t 0 ]; then echo "make clean-data: not deleting data/ and airflow_home/ without a yes: run make clean-data CONFIRM=yes" >&2; exit 1; fi; \
	  printf 'Delete data/ (the database, inbox, staged runs) and airflow_home/ (Airflow run history)? Type yes: '; \
	  read answer; [ "$$answer" = yes ] || { echo "Nothing deleted."; exit 1; }; \
	fi
	rm -rf data airflow_home
