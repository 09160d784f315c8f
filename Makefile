# Two commands for a fresh clone: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
FLASK  := $(BIN)/flask --app wsgi
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint install migrate sample-badges bench-register bench-badges i18n clean worker beat

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt package-lock.json $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-dev.txt
	@# axe-core for the accessibility browser tests (they skip without it or without npm)
	if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --silent; fi
	touch $@

install: $(VENV)/.installed

migrate: $(VENV)/.installed
	$(FLASK) db upgrade

## make run: virtualenv, pinned install, migrate, serve on http://$(HOST):$(PORT). Without
## REDIS_URL / CELERY_BROKER_URL background work runs on the web process's own task pool;
## with one, start `make worker` and `make beat` beside it.
run: migrate
	@$(FLASK) welcome --url "http://$(HOST):$(PORT)"
	@if [ -n "$$REDIS_URL$$CELERY_BROKER_URL" ]; then \
		echo "Background work goes to the broker: run 'make worker' and 'make beat' too."; fi
	$(FLASK) run --host "$(HOST)" --port "$(PORT)"

## make worker / make beat: the Celery worker and the periodic-task sender (need REDIS_URL
## or CELERY_BROKER_URL; see deploy/ for systemd units)
worker: migrate
	$(BIN)/celery -A wsgi.celery worker --loglevel=INFO

beat: $(VENV)/.installed
	$(BIN)/celery -A wsgi.celery beat --loglevel=INFO --schedule instance/celerybeat-schedule

## make test: test dependencies, ruff, the whole suite on every core (TEST_DATABASE_URL picks
## PostgreSQL; each worker gets its own database, so the user needs CREATEDB)
test: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .

sample-badges: $(VENV)/.installed
	$(BIN)/python -m badges sample --csv ../shared/samples/delegates.csv -o samples-out
	@echo "Sample badges written to samples-out/"

bench-register: $(VENV)/.dev-installed
	$(BIN)/python bench/register.py

bench-badges: $(VENV)/.dev-installed
	$(BIN)/python bench/badges.py

## make i18n: refresh the catalogue after changing strings, then translate and run it again
i18n: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 --no-wrap --sort-by-file \
		-o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations -l zh --no-wrap \
		--no-fuzzy-matching
	$(BIN)/pybabel compile -d translations -l zh
	@grep -c '^msgstr ""$$' translations/zh/LC_MESSAGES/messages.po \
		| xargs -I{} echo "{} entries in messages.po (including multi-line ones) to check"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

.PHONY: typecheck requirements requirements-check

## make typecheck: mypy over registration/ and badges/ (settings in pyproject.toml)
typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

## make requirements: recompile the pinned requirements from requirements*.in
requirements: $(VENV)/.dev-installed
	$(BIN)/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links \
		-o requirements.txt requirements.in
	$(BIN)/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links \
		-o requirements-dev.txt requirements-dev.in

requirements-check: $(VENV)/.dev-installed
	@cp requirements.txt /tmp/requirements.check && cp requirements-dev.txt /tmp/requirements-dev.check
	@$(MAKE) -s requirements
	@diff -q /tmp/requirements.check requirements.txt && diff -q /tmp/requirements-dev.check requirements-dev.txt \
		|| { echo "requirements*.txt were stale: recompiled, review and commit"; exit 1; }
