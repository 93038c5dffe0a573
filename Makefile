# 校安 xiaoan — the two commands are `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: deps demo test lint typecheck pytest bench deb clean

deps:
	./scripts/install-deps.sh

demo: deps
	$(VENV)/bin/xiaoan demo

test: deps lint typecheck pytest

lint:
	$(VENV)/bin/ruff check edge hub tests bench

typecheck:
	$(VENV)/bin/mypy

# pytest exits 5 when it collected no test: that is a failure here, said plainly.
pytest:
	@$(VENV)/bin/pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest ran no tests: failing"; exit 1; fi; exit $$rc

bench: deps
	$(PY) -m bench

# The hub's Debian package, from the wheel (scripts/make-deb.sh; tests/test_deb.py installs it in a clean root).
deb: deps
	rm -rf dist build *.egg-info && $(PY) -m pip wheel --no-deps -q --wheel-dir dist .
	bash scripts/make-deb.sh dist/xiaoan-*-py3-none-any.whl dist

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
