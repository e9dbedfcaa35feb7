# Two commands a newcomer needs: `make demo` and `make test`. Each creates or reuses .venv.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test bench lint clean

# The package alone (NumPy is its only dependency): enough for the demo.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -e .
	touch $@

# Plus the dev tools: pytest, hypothesis, ruff, and torch as the test oracle.
$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(PY) examples/demo.py

test: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m pytest -q

bench: $(VENV)/.installed-dev
	$(PY) benchmarks/bench.py

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache
