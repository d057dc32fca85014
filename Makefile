# Two commands do all the set-up: `make run` (the app, everything embedded) and `make test`.
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
PYTHON  ?= python3

.PHONY: run test install vendor browser lint gates complexity module-size duplicates check-types clean-data

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

lint: gates
	$(BIN)/ruff check app tests bench scripts
	$(BIN)/ruff format --check app tests bench scripts

# Structure gates, part of `make lint` (so of `make test` and CI).
gates: complexity module-size duplicates

# No function in app/ above radon grade C: `radon cc --min D` lists those of grade D and worse.
complexity:
	@found="$$($(BIN)/radon cc --min D --show-complexity app)"; \
	if [ -n "$$found" ]; then echo "$$found"; \
	echo "complexity: the functions above are above grade C; split them"; exit 1; fi

# No module in app/ over 400 lines.
module-size:
	$(BIN)/python scripts/check_module_size.py --max 400 app

# No six lines repeated in app/, bench/ or tests/ (migrations are generated, so not scanned).
# Pylint's similarity checker, configured in pyproject.toml; it sees identical lines only. The
# `duplicates` command of the development machines also finds lines alike but for names.
duplicates:
	$(BIN)/pylint app bench tests

check-types:
	$(BIN)/mypy app

# Stops nothing: removes the embedded PostgreSQL and Temporal data (stop `make run` first).
clean-data:
	rm -rf .data
