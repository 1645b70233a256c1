#!/usr/bin/env bash
# The GPU check: run on a machine with CUDA, from the repository root, with stretchnas installed:
#   bash benchmarks/gpu_check.sh            # DEVICE=cuda:1 bash benchmarks/gpu_check.sh for another GPU
# Prints one JSON line per check: the DARTS and the stretchable supernet step at paper size
# (C=16, batch 64, 8 cells), one smoke search and one smoke training, then the paper scale's device-hours
# per experiment (stretchnas estimate). Data: $STRETCHNAS_CIFAR10 if set,
# else a synthetic 32x32 ImageFolder (timings only; its accuracies mean nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE="${DEVICE:-cuda}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

stretchnas bench --device "$DEVICE" --channels "${CHANNELS:-16}" --batch "${BATCH:-64}" --layers 8 --steps 5 --warmup 2 --topology darts
stretchnas bench --device "$DEVICE" --channels "${CHANNELS:-16}" --batch "${BATCH:-64}" --layers 8 --steps 5 --warmup 2 \
    --topology stretchable --nodes 6 --optimizer milenas

if [ -n "${STRETCHNAS_CIFAR10:-}" ]; then
    SOURCE="$STRETCHNAS_CIFAR10"; DATASET=cifar10
else
    SOURCE="$WORK/tree"; DATASET=imagefolder
    python - "$SOURCE" <<'PY'
import sys
from pathlib import Path

import numpy as np
from PIL import Image

rng = np.random.default_rng(0)
for split, count in (("train", 60), ("test", 20)):  # the smoke scale's images per class
    for cls in range(10):
        folder = Path(sys.argv[1]) / split / f"class{cls}"
        folder.mkdir(parents=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
PY
fi
stretchnas prepare-data --scale smoke --source "$SOURCE" --dataset "$DATASET" --out "$WORK/data" > /dev/null

summarise() {  # $1: check name, $2: run folder
    python - "$1" "$2" <<'PY'
import json
import sys
from pathlib import Path

import pandas as pd

check, out = sys.argv[1], Path(sys.argv[2])
run = json.loads((out / "run.json").read_text())
metrics = pd.read_csv(out / "metrics.csv")
print(json.dumps({"check": check, "status": run["status"], "device": run["device"], "device_name": run["device_name"],
                  "cuda": run["cuda"], "cudnn": run["cudnn"], "epochs": len(metrics),
                  "seconds_per_epoch": round(float(metrics["seconds"].mean()), 3),
                  "images_per_s": round(float(metrics["images_per_s"].mean()), 1)}))
PY
}
stretchnas search --scale smoke --exp milenas_sc_L8 --device "$DEVICE" --data "$WORK/data" --out "$WORK/search" \
    --quiet > /dev/null
summarise "smoke search (milenas_sc_L8)" "$WORK/search"
stretchnas train --scale smoke --genotype DARTS_V2 --layers 20 --channels 36 --device "$DEVICE" \
    --data "$WORK/data" --out "$WORK/train" --quiet > /dev/null
summarise "smoke training (DARTS_V2, 20 layers, C=36)" "$WORK/train"

# Device-hours of the paper scale, from one step of each distinct search and training configuration timed
# on this device (every experiment: a few minutes on one GPU). The README's GPU-hours come from this line.
stretchnas estimate --scale paper --device "$DEVICE" --repeats 3 2>/dev/null
