# Stepwise: `make run` starts the local stack, `make test` runs every check. Both set up what
# they need (virtualenvs in .venv and .venv-sam) on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
PYTEST_ARGS ?=
# pytest runs on both cores: xdist workers each take whole test files (a module's stack is
# provisioned once, and a file's tests keep their order), costliest first in the order
# tests/conftest.py gives them. PYTEST_WORKERS=0 runs every test in this one process, in file
# order, for debugging (docs/testing.md).
PYTEST_WORKERS ?= 2
PYTEST_XDIST := -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run demo bench smoke test check lint format validate pytest unit integration e2e build deploy clean venv sam

## run: start the local stack (API on 127.0.0.1:$${STEPWISE_PORT:-3000}, prints org and key)
run: $(VENV)/.installed
	PYTHONPATH=$(CURDIR)/layers/core:$(CURDIR) $(PY) -m stepwise_local

## demo: the local stack and a real webhook receiver; runs a sample workflow, prints its records
demo: $(VENV)/.installed
	PYTHONPATH=$(CURDIR)/layers/core:$(CURDIR) $(PY) -m stepwise_local.demo

## bench: cost, cold start, API overhead and throughput on the local stack -> bench/REPORT.md
bench: $(VENV)/.installed
	PYTHONPATH=$(CURDIR)/layers/core:$(CURDIR) $(PY) -m bench

## smoke: a diamond, a failing run, a cancel and a wrong key against a stack: the deployed stack
## STEPWISE_STACK names (or the one at STEPWISE_API_URL), with STEPWISE_ORG and STEPWISE_API_KEY;
## else a local stack it starts
smoke: $(VENV)/.installed
	PYTHONPATH=$(CURDIR)/layers/core:$(CURDIR) $(PY) -m smoke

## test: lint, template checks and the whole test suite; non-zero on any failure
test: lint validate pytest

## check: the fast loop (lint + unit + integration)
check: lint unit integration

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## validate: cfn-lint and sam validate (offline)
validate: $(VENV)/.installed $(SAM_VENV)/.installed
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint
	$(SAM) validate --region us-east-1

# The browser tests run on their own, after the rest: a headless Chromium beside a worker's
# heavy files on 2 cores missed its 30 s waits.
BROWSER_TESTS := tests/e2e/test_console.py
pytest: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_XDIST) --ignore=$(BROWSER_TESTS) $(PYTEST_ARGS)
	$(PY) -m pytest $(BROWSER_TESTS) $(PYTEST_ARGS) || [ $$? -eq 5 ]  # 5: PYTEST_ARGS chose none

unit: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_XDIST) tests/unit $(PYTEST_ARGS)

integration: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_XDIST) tests/integration $(PYTEST_ARGS)

e2e: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_XDIST) tests/e2e $(PYTEST_ARGS)

## asl-check: the state machines through checkers this project did not write: asl-validator
## (npm, tools/asl) and LocalStack's Step Functions (.venv-localstack, Python 3.13), see docs/testing.md
.PHONY: asl-check
ASL_VENV := .venv-localstack
ASL_NODE := tools/asl/node_modules
asl-check: $(VENV)/.installed $(ASL_NODE)/.installed $(ASL_VENV)/.installed
	$(PY) -m pytest -q -p no:cacheprovider tests/asl
	PYTHONPATH=$(CURDIR)/layers/core:$(CURDIR) $(PY) -m tests.asl.validate
	PYTHONPATH=$(CURDIR)/layers/core:$(CURDIR) $(PY) -m tests.asl.paths

$(ASL_NODE)/.installed: tools/asl/package.json tools/asl/package-lock.json
	cd tools/asl && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# LocalStack needs Python 3.13: PYTHON313 if given, else python3.13 on PATH, else pyenv's newest
# 3.13 (found the way `make build` finds 3.12, through PYENV_VERSION).
$(ASL_VENV)/.installed: tools/asl/requirements-localstack.txt
	test -x $(ASL_VENV)/bin/python || { \
	  py="$(PYTHON313)"; \
	  [ -n "$$py" ] || py=$$(python3.13 -c 'import sys; print(sys.executable)' 2>/dev/null) || true; \
	  [ -n "$$py" ] || py=$$(PYENV_VERSION=$$(pyenv latest 3.13 2>/dev/null) pyenv which python3.13 2>/dev/null) || true; \
	  [ -n "$$py" ] || { echo "make asl-check needs Python 3.13 (PYTHON313=..., python3.13 on PATH, or pyenv install 3.13)" >&2; exit 1; }; \
	  "$$py" -m venv $(ASL_VENV); }
	$(ASL_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/asl/requirements-localstack.txt
	touch $@

## console: rebuild the console (console/ -> layers/core/stepwise/api/console_assets/, committed)
## with esbuild from npm; needs Node and npm, which `make run` and `make test` do not
.PHONY: console
CONSOLE_NODE := console/node_modules
console: $(CONSOLE_NODE)/.installed
	cd console && node build.mjs

$(CONSOLE_NODE)/.installed: console/package.json console/package-lock.json
	cd console && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## openapi-snapshot: after an intended API change, rewrite tests/openapi.snapshot.json (review its diff)
.PHONY: openapi-snapshot
openapi-snapshot: $(VENV)/.installed
	STEPWISE_OPENAPI_SNAPSHOT=update $(PY) -m pytest tests/unit -q -p no:cacheprovider -k test_openapi_snapshot

## build: sam build (needs python3.12 on PATH; with pyenv: PYENV_VERSION=3.11.7:3.12.1 make build)
build: $(SAM_VENV)/.installed
	$(SAM) build

## deploy: first deployment, guided (later: sam deploy --config-env dev|prod)
deploy: build
	$(SAM) deploy --guided

venv: $(VENV)/.installed
sam: $(SAM_VENV)/.installed

# The project itself, editable and without dependencies (requirements-dev.txt pins them): the
# `stepwise` command, .venv/bin/stepwise, running this checkout's stepwise_cli (docs/cli.md).
$(VENV)/.installed: requirements-dev.txt layers/core/requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

clean:
	rm -rf $(VENV) $(SAM_VENV) $(ASL_VENV) $(ASL_NODE) $(CONSOLE_NODE) $(AUDIT_VENV) .aws-sam .pytest_cache .ruff_cache .hypothesis

## audit: issue 14's attack tests (-m attack) and checkov on template.yaml with the reasoned
## suppressions of tools/audit/checkov-suppressions.txt; CI runs it. See docs/security.md
.PHONY: audit audit-deps
AUDIT_VENV := .venv-audit
audit: $(VENV)/.installed $(AUDIT_VENV)/.installed
	$(PY) -m pytest -q -p no:cacheprovider -m attack $(PYTEST_ARGS)
	$(PY) -m tools.audit.checkov_gate $(AUDIT_VENV)/bin/checkov

## audit-deps: pip-audit on the pinned requirements. It needs PyPI's JSON API
## (/pypi/<name>/<version>/json) or OSV, which the project's CI cannot reach: run it where they
## are reachable (--strict: a package it cannot look up fails it, never passes unaudited)
audit-deps: $(AUDIT_VENV)/.installed
	$(AUDIT_VENV)/bin/pip-audit --strict --progress-spinner off \
		-r requirements-dev.txt -r layers/core/requirements.txt \
		|| { echo "make audit-deps: pip-audit found a vulnerability or could not look a pinned" \
		"package up (PyPI's JSON API or OSV unreachable?): see its lines above"; exit 1; }

# Its own venv: checkov pins dozens of libraries that must not constrain the project's .venv.
$(AUDIT_VENV)/.installed: tools/audit/requirements.txt
	$(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/pip install -q -r tools/audit/requirements.txt
	touch $@
