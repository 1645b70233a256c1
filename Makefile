# Two entry points on a fresh machine with Python 3.11 and pip:
#   make reproduce   - set up .venv and run the whole workflow at params.yaml's scale
#   make test        - set up .venv and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: reproduce test lint setup setup-slurm clean-venv dot

$(BIN)/stretchnas: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt torch torchvision
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

setup: $(BIN)/stretchnas dot

# The report draws the searched cells with Graphviz's `dot` (Debian's graphviz package).
dot:
	@command -v dot >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get install -y -qq --no-install-recommends graphviz >/dev/null; } \
	  || { command -v dot >/dev/null || echo "make: install Graphviz (apt-get install graphviz) for the cell drawings"; }

# The rules call `stretchnas`, so the venv's bin goes first on PATH.
reproduce: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores $(CORES)

test: setup
	$(BIN)/ruff check .
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest

lint: setup
	$(BIN)/ruff check .

clean-venv:
	rm -rf $(VENV)

# The Snakemake SLURM executor plugin (workflow/profiles/slurm; tests/test_slurm.py)
setup-slurm: setup
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[slurm]'
