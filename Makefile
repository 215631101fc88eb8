# Keel — see README.md. Everything runs from .venv, created on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= $(or $(KEEL_PORT),8069)

.PHONY: run test bench install test-install clean messages

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

# gettext catalogs (docs/i18n.md): extract the _()/gettext() texts of core/ and
# of each addon, then merge them into its translations/*/LC_MESSAGES/messages.po
# (created when missing); new or changed texts come untranslated (no fuzzy
# guesses: a look-alike text is rarely the right translation).
# The .po files are compiled in memory when first used: no .mo to build.
I18N_DIRS    := core $(patsubst %/__init__.py,%,$(wildcard addons/*/__init__.py))
I18N_LOCALES := zh_Hans_CN

messages: install
	@set -e; pot=$$(mktemp); trap 'rm -f $$pot' EXIT; \
	for dir in $(I18N_DIRS); do \
		$(BIN)/pybabel -q extract -F babel.cfg --no-location --sort-output \
			--project=keel -o $$pot $$dir; \
		for locale in $(I18N_LOCALES); do \
			$(BIN)/pybabel -q update -i $$pot -d $$dir/translations -l $$locale \
				--init-missing --no-wrap --ignore-obsolete --no-fuzzy-matching; \
		done; \
		echo "$$dir/translations: updated"; \
	done

clean:
	rm -rf $(VENV) var build *.egg-info
