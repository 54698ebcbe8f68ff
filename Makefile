# signalering — the two commands a new user needs: `make demo` and `make test`.
# Every target creates .venv on first use; nothing is installed by hand.

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint bench evaluate clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first, so nothing can pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# combiner.json is the last file `train` writes (after model.skops): a model trained
# before the similarity combiner existed is retrained once.
MODEL := models/default/combiner.json
# So is a model saved before its vocabularies moved to model.tables.json (format 1),
# which this version refuses to load.
ifeq ($(wildcard models/default/model.tables.json),)
.PHONY: $(MODEL)
endif

# The default model and its similarity combiner are trained from annotaties/ (seeded,
# about two minutes): again whenever the templates, the real texts or the cue lexicon change.
$(MODEL): $(STAMP) annotaties/corpus.jsonl annotaties/real/corpus.jsonl src/signalering/data/cues.yaml
	$(BIN)/signalering --quiet train

install: $(STAMP) $(MODEL)

demo: install
	$(BIN)/signalering demo

lint: install
	$(BIN)/ruff check src spiders tests benchmarks
	$(BIN)/ruff format --check src spiders tests benchmarks

test: lint
	$(BIN)/python -m pytest

# The ANN libraries bench_ann measures against our own index are a bench-only extra.
bench: install
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m benchmarks

evaluate: install
	$(BIN)/signalering evaluate

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info src/*.egg-info
