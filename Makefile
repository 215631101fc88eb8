# Keel — see README.md. Everything runs from .venv, created on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= $(or $(KEEL_PORT),8069)

.PHONY: run test bench install test-install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip "setuptools>=68" wheel

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

test-install: $(VENV)/.test-installed

run: install
	@if $(BIN)/keel edition show >/dev/null 2>&1; then \
		echo "database already initialised; sign in as admin with the password printed when it was created"; \
	else \
		$(BIN)/keel init --edition standard --demo || exit 1; \
	fi
	@echo "serving http://127.0.0.1:$(PORT)"
	$(BIN)/keel serve --port $(PORT)

test: test-install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: test-install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var build *.egg-info
