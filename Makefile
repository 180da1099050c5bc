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

.PHONY: help install plan test lint format bench clean

help:
	@echo "make install            uv and .venv from uv.lock (the other targets do it too)"
	@echo "make plan [STACK=dev]   offline plan of a stack (no AWS account or Pulumi CLI needed)"
	@echo "make test               the test suite"
	@echo "make lint               ruff check and format check"
	@echo "make bench              plan wall times against the import floor, and scaling"

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --quiet
	@touch $@

install: $(VENV)/.synced

plan: $(VENV)/.synced
	$(VENV)/bin/mlplatform plan $(STACK)

test: $(VENV)/.synced
	$(VENV)/bin/pytest

lint: $(VENV)/.synced
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.synced
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(VENV)/.synced
	$(VENV)/bin/python -m pipelines.bench

clean:
	rm -rf $(VENV) .tools .pytest_cache .ruff_cache
