.PHONY: setup demo test lint format bench

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/openrft demo

test: setup lint
	.venv/bin/python -m pytest

lint: setup
	.venv/bin/ruff check src tests benchmarks
	.venv/bin/ruff format --check src tests benchmarks

format: setup
	.venv/bin/ruff format src tests benchmarks
	.venv/bin/ruff check --fix src tests benchmarks

bench: setup
	.venv/bin/python benchmarks/graders.py
