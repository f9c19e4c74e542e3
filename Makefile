# PeerBridge: make run | make test | make fuzz | make up | make down | make bench
SHELL := /bin/bash
PY ?= python3
VENV := .venv
STACK := deploy/local/stack.sh

.PHONY: run test fuzz up down bench venv clean

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

run: venv
	$(STACK) run

up: venv
	$(STACK) up

down:
	$(STACK) down

test: venv
	deploy/local/prereqs.sh
	$(VENV)/bin/python -m pytest -p no:cacheprovider -rs $(PYTEST_ARGS)

# The bad-input corpus and schemathesis against a stack of its own; prints the counts, fails on any 5xx.
fuzz: venv
	deploy/local/prereqs.sh
	$(VENV)/bin/python -m pytest -p no:cacheprovider -p tests.support.fuzz -q tests/e2e/test_bad_input.py \
		tests/e2e/fuzz_openapi.py $(PYTEST_ARGS)

bench: venv
	$(STACK) bench

clean: down
	rm -rf .local $(VENV)
