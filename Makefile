# PeerBridge: make run | make test | make test-future | make fuzz | make up | make down | make bench | make chaos
SHELL := /bin/bash
PY ?= python3
VENV := .venv
STACK := deploy/local/stack.sh

.PHONY: run test test-future fuzz up down bench chaos venv clean
# How far ahead `make test-future` moves the clock (libfaketime syntax): three years and a few days.
FUTURE ?= +1100d

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
	$(VENV)/bin/ruff check .
	deploy/local/prereqs.sh
	$(VENV)/bin/python -m pytest -p no:cacheprovider -rs $(PYTEST_ARGS)

# The whole suite with the clock FUTURE ahead, to prove no test, fixture or demo file depends on today's date. Our
# processes and PostgreSQL run ahead; the JVMs (Kafka, HAPI, the FHIR validator) keep the real clock, since Java
# under libfaketime costs several times the CPU (see deploy/local/kafka-server.properties for the broker's side).
test-future: venv
	deploy/local/prereqs.sh
	@faketime -f "$(FUTURE)" date -u +"test-future: the clock reads %F %T UTC"
	FAKETIME_SKIP_CMDS=java faketime -f "$(FUTURE)" \
	  $(VENV)/bin/python -m pytest -p no:cacheprovider -rs $(PYTEST_ARGS)

# The bad-input corpus and schemathesis against a stack of its own; prints the counts, fails on any 5xx.
fuzz: venv
	deploy/local/prereqs.sh
	$(VENV)/bin/python -m pytest -p no:cacheprovider -p tests.support.fuzz -q tests/e2e/test_bad_input.py \
		tests/e2e/fuzz_openapi.py $(PYTEST_ARGS)

bench: venv
	$(STACK) bench

# Faults under load on 3 brokers x 2 replicas (a stack of its own in .local/chaos): prints acknowledged / lost /
# doubled per kind and the drain time; fails on any lost or doubled. Heavy: about 10 minutes on 2 cores.
chaos: venv
	deploy/local/prereqs.sh
	$(VENV)/bin/python deploy/local/chaos.py

clean: down
	rm -rf .local $(VENV)
