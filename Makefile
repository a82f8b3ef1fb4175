# make run: set up, then serve the chat app.  make test: set up with test extras, then run the tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF
export HF_HUB_OFFLINE := 1

.PHONY: setup setup-test run test lint bench adapt index clean-index

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0

$(VENV)/.stamp-main: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.stamp-test: pyproject.toml $(VENV)/.stamp-main
	$(BIN)/pip install -q -e '.[test]'
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
		|| echo "warning: could not install Debian's chromium; browser tests will be skipped"
	touch $@

# Brings the default index up to date after the corpus or the code changes (a no-op ingest when nothing did).
# It is built without adapting the embedding model (20-80 s): app.py adapts it in the background while it
# serves (rag/adapt.py: 6-13 minutes on 2 cores, once) and switches to the adapted index when it is ready.
$(VENV)/.stamp-index: $(wildcard corpus/*) $(wildcard rag/*.py) $(VENV)/.stamp-main
	$(BIN)/rag ingest corpus/ --index index/default
	touch $@

# The adapted index up front, without the app (what app.py otherwise does in the background).
adapt: setup
	$(BIN)/rag ingest corpus/ --index index/default --adapt

setup: $(VENV)/.stamp-main $(VENV)/.stamp-index

setup-test: setup $(VENV)/.stamp-test

run: setup
	$(BIN)/python app.py

test: setup-test
	$(BIN)/python -m pytest -q

lint: setup-test
	$(BIN)/ruff check .

bench: setup
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/retrieval.py
	$(BIN)/python benchmarks/answer.py
