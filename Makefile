# Two commands do all the set-up: `make run` (the app, everything embedded) and `make test`.
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
PYTHON  ?= python3

.PHONY: run test install vendor browser lint check-types clean-data

run: install
	$(BIN)/stepladder dev

test: install browser lint check-types
	$(BIN)/python -m pytest

install: $(STAMP) vendor

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

vendor:
	bash scripts/vendor_static.sh

browser:
	bash scripts/ensure_chromium.sh

lint:
	$(BIN)/ruff check app tests $(wildcard bench)
	$(BIN)/ruff format --check app tests $(wildcard bench)

check-types:
	$(BIN)/mypy app

# Stops nothing: removes the embedded PostgreSQL and Temporal data (stop `make run` first).
clean-data:
	rm -rf .data
