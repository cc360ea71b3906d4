# Two commands on a fresh machine: `make demo` and `make test`. Both build .venv from uv.lock.
PYTHON ?= python3.11
VENV   := .venv
UV_VERSION := 0.13.8
STAMP  := $(VENV)/.synced

export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export GX_ANALYTICS_ENABLED ?= false
export DBT_SEND_ANONYMOUS_USAGE_STATS ?= false
export DO_NOT_TRACK ?= 1

# Two workers on the 2-core machine; tests that share a built warehouse stay on one worker
# (xdist groups set in tests/conftest.py), so each shared build happens once per engine.
PYTEST_WORKERS ?= 2
# --no-loadscope-reorder: hand work out in collection order, which tests/conftest.py sorts longest
# first (xdist would otherwise order by test count, and a single 150 s test would start last)
PYTEST := $(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadgroup --no-loadscope-reorder

.PHONY: venv demo test test-fast test-faults screenshots bench clean

venv: $(STAMP)

# The lock file pins every package; `--locked` fails instead of silently re-resolving.
$(STAMP): pyproject.toml uv.lock
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv sync --locked --inexact --compile-bytecode --python $(VENV)/bin/python
	touch $(STAMP)

demo: venv
	$(VENV)/bin/revops demo

# Everything, both engines (a throwaway PostgreSQL is started when none answers): before you land.
test: venv
	$(PYTEST) --durations=25

# Unit and contract tests plus one DuckDB pipeline run against ground truth: while you work.
test-fast: venv
	$(PYTEST) -m "not slow or smoke" --durations=10

# The fault suite alone (docs/reliability.md: each fault, the promise, the test), both engines;
# `make test` runs it too.
test-faults: venv
	$(PYTEST) -m faults --durations=10

# The README's pictures of the KPI report (docs/img/), as the browser test renders it from the
# shared test warehouse (DuckDB); `make test` takes the same screenshots into a temporary folder.
screenshots: venv
	UPDATE_SCREENSHOTS=1 $(VENV)/bin/pytest tests/report/test_html_report.py -k "chromium and duckdb"

# dlt (the extraction benchmark's yardstick) is in the bench dependency group only.
# The large-world sync (bench/large_bench.py) at a small share of issue 15's size by default;
# `make bench LARGE_SCALE=1` for the full 1M contacts / 5M ad-days (tens of minutes, GBs of RAM)
LARGE_SCALE ?= 0.02
bench: venv
	$(VENV)/bin/uv sync --locked --inexact --group bench --compile-bytecode --python $(VENV)/bin/python
	$(VENV)/bin/python -m bench.load_bench
	$(VENV)/bin/python -m bench.extract_bench
	$(VENV)/bin/python -m bench.night_bench
	$(VENV)/bin/python -m bench.large_bench --scale $(LARGE_SCALE) --truth

clean:
	rm -rf $(VENV) data
