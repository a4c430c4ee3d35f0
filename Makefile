.PHONY: setup demo test test-fast lint format bench check-coinstall vllm-venv

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/openrft demo

# The full suite, what CI runs (.ci/run): browser, PostgreSQL, durability, scale-out, the demo
# and the real packaged models included.
test: setup lint
	.venv/bin/python -m pytest

# The development loop: everything not marked slow (unit and small integration tests, offline).
test-fast: setup lint
	.venv/bin/python -m pytest -m "not slow"

lint: setup
	.venv/bin/ruff check src tests benchmarks scripts
	.venv/bin/ruff format --check src tests benchmarks scripts
	.venv/bin/python scripts/check_imports.py
	.venv/bin/mypy

format: setup
	.venv/bin/ruff format src tests benchmarks scripts
	.venv/bin/ruff check --fix src tests benchmarks scripts

bench: setup
	.venv/bin/python benchmarks/graders.py

# openrft installed into a fresh venv that already holds another torch and transformers 5.17.
check-coinstall:
	bash scripts/check_coinstall.sh

# A separate venv with vLLM for `vllm serve` (CUDA GPU machines; docs/vllm.md).
vllm-venv:
	bash scripts/vllm-server-venv.sh
