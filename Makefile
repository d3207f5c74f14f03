# make demo | make test: each target installs what it needs first, from uv.lock.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
RUN := $(UV) run --locked

.PHONY: install test lint demo clean

.venv/.installed: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --locked
	@touch $@

install: .venv/.installed

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) pyright

test: lint
	$(RUN) pytest

# Until the local stack lands, the demo checks the example catalog, prints its deploy plan and
# the next runs of every job.
demo: install
	$(RUN) cronflare check
	$(RUN) cronflare plan
	$(RUN) cronflare next --count 3

clean:
	rm -rf .venv .cronflare .pytest_cache .ruff_cache .hypothesis
