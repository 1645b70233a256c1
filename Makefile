# Two entry points on a fresh machine with Python 3.11 and pip:
#   make reproduce   - set up .venv; regenerate results/mini (every table, figure and the claims page)
#                      from the committed mini runs, with no data, search or training
#   make test        - set up .venv and run the test suite
# and:
#   make reproduce SCALE=smoke   - the smoke pipeline, from the data (minutes; CIFAR-10 needed)
#   make rerun                   - the mini pipeline again from the data: every search and training
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all
SCALE ?= mini
# The scale whose runs are committed (runs/mini: genotypes, metrics, results, run and job records)
COMMITTED_SCALE := mini
# PyPI's torch wheel bundles CUDA's libraries (about 3 GB of the 6 GB environment). On a CPU-only machine,
# `make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu` installs the CPU build of the same pinned version.
TORCH_INDEX ?=
# Job rules' details stay in logs/ (each rule prints a failed job's last log lines itself)
SNAKEMAKE_FLAGS := --quiet rules

.PHONY: reproduce rerun proxy-sweep test lint setup setup-slurm clean-venv dot

$(BIN)/stretchnas: pyproject.toml constraints.txt
	@echo "make: creating $(VENV): torch and torchvision as constraints.txt pins them$(if $(TORCH_INDEX), from $(TORCH_INDEX), \
	from PyPI (about 6 GB with CUDA's libraries; TORCH_INDEX=https://download.pytorch.org/whl/cpu for a CPU-only build)), \
	then stretchnas with Snakemake, DVC, pandas, matplotlib, scipy and the test tools"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) torch torchvision
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

setup: $(BIN)/stretchnas dot

# The report draws the searched cells with Graphviz's `dot` (Debian's graphviz package).
dot:
	@command -v dot >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && echo "make: installing Graphviz (Debian's graphviz package, as root) for the cell drawings" \
	  && apt-get install -y -qq --no-install-recommends graphviz >/dev/null; } \
	  || { command -v dot >/dev/null || echo "make: install Graphviz (apt-get install graphviz) for the cell drawings"; }

# The rules call `stretchnas`, so the venv's bin goes first on PATH. At the committed scale only the
# summaries, tables and report run (Snakemake --config from_runs=true), each of them again (--forceall).
reproduce: setup
ifeq ($(SCALE),$(COMMITTED_SCALE))
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake $(SNAKEMAKE_FLAGS) --cores $(CORES) --config scale=$(SCALE) from_runs=true --forceall
else
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake $(SNAKEMAKE_FLAGS) --cores $(CORES) --config scale=$(SCALE)
endif
	@echo "make: done; open results/$(SCALE)/README.md (the claims page, with every table and figure)"

# Every job of SCALE again from the data, over whatever runs/ holds (git shows what changed)
rerun: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/snakemake $(SNAKEMAKE_FLAGS) --cores $(CORES) --config scale=$(SCALE) --forceall
	@echo "make: done; open results/$(SCALE)/README.md (git status shows what changed)"

# NAS-Bench-201's mini proxy, chosen by rule before any cell is looked up (docs/method.md §12): searches
# its spec's candidates (resuming finished ones) and rewrites docs/proxy-sweep/. CIFAR-10 needed; no table read.
proxy-sweep: setup
	test -f data/prepared/mini/manifest.json || $(BIN)/stretchnas prepare-data --scale mini --out data/prepared/mini
	$(BIN)/stretchnas proxy-sweep --spec docs/proxy-sweep/spec.yaml --out runs/proxy-sweep \
	  --csv docs/proxy-sweep/searches.csv --report docs/proxy-sweep/README.md

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean-venv:
	rm -rf $(VENV)

# The Snakemake SLURM executor plugin (workflow/profiles/slurm; tests/test_slurm.py)
setup-slurm: setup
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[slurm]'
