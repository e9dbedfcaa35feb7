# Two commands a newcomer needs: `make demo` and `make test`. Each creates or reuses .venv.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test bench lint docs clean

# The package with the demo's extras (tqdm, matplotlib, scikit-learn); NumPy is the core's
# only dependency.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[demo]'
	touch $@

# Plus the dev tools: pytest (with xdist), hypothesis, ruff, mypy, torch as the test oracle, and
# what the packaging and notebook tests run (build, twine, nbclient, ipykernel).
$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Plus the docs tools: mkdocs, its material theme, mkdocstrings.
$(VENV)/.installed-docs: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[docs]'
	touch $@

demo: $(VENV)/.installed
	$(PY) examples/demo.py

# Two pytest workers (pytest-xdist): the suite's tests are independent of each other.
test: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -q -n 2 --durations=15

bench: $(VENV)/.installed-dev
	$(PY) benchmarks/bench.py

# The docs site, into build/site; --strict turns a broken link or an unreadable docstring into
# a failure.
docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache .mypy_cache build
