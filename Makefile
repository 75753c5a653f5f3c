# ainotes developer commands. `make help` lists them.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PYTEST_WORKERS ?= 2

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

.PHONY: uv
uv: ## Install uv if it is missing
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv

.PHONY: install
install: uv ## Install the locked dependencies into .venv
	$(UV) sync --frozen

.PHONY: run
run: uv ## Install and serve the API on http://127.0.0.1:8000 (SQLite under ./data)
	$(UV) sync --frozen --no-dev
	$(UV) run --frozen --no-dev ainotes serve

.PHONY: test
test: install ## Install and run every test, on SQLite and PostgreSQL
	$(UV) run --frozen pytest -n $(PYTEST_WORKERS)

.PHONY: check
check: install ## Format check, lint, strict type check, import contracts
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen ruff check .
	$(UV) run --frozen mypy
	$(UV) run --frozen lint-imports

.PHONY: fmt
fmt: install ## Format and auto-fix
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

.PHONY: migration
migration: install ## New migration from the models: make migration m=slug
	$(UV) run --frozen alembic revision --autogenerate -m "$(m)"

.PHONY: bench
bench: install ## Benchmarks (see BENCHMARKS.md); needs wrk
	$(UV) run --frozen python -m bench
