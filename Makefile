# make run: set up, then serve the chat app.  make test: set up with test extras, then run the tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# llama.cpp built for any x86-64 CPU: a -march=native build (GGML_NATIVE, the default) crashes in its AVX-512/AMX
# code on this machine's CPU (segmentation fault in llama_decode on the first token, measured with 0.3.36)
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LLAMA_CPP := $(shell grep -o "llama-cpp-python\[server\]==[0-9.]*" pyproject.toml | head -1)
export HF_HUB_OFFLINE := 1

.PHONY: setup setup-test run test lint bench adapt index clean-index

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0

# WordNet's database (rag.wordnet, for the other names of a place or body in claim checks) is Debian's
$(VENV)/.stamp-main: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	@test -f /usr/share/wordnet/data.noun || (apt-get update -qq && apt-get install -y -qq wordnet-base >/dev/null) \
		|| echo "warning: could not install Debian's wordnet-base; claim checks will work without WordNet"
	touch $@

# llama.cpp is compiled here with the flags above, never taken from pip's wheel cache, which may hold a native build
$(VENV)/.stamp-test: pyproject.toml $(VENV)/.stamp-main
	$(BIN)/pip install -q --no-cache-dir '$(LLAMA_CPP)'
	$(BIN)/pip install -q -e '.[test]'
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
		|| echo "warning: could not install Debian's chromium; browser tests will be skipped"
	touch $@

# Brings the default index up to date after the corpus or the code changes (a no-op ingest when nothing did).
# It is built without adapting the embedding model (30-45 s on 2 cores): app.py adapts it in the background while it
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
