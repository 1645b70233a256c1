"""Published cells, by name, in the DARTS format they were released in.

Sources (docs/reference-settings.md §6):
  DARTS_V1, DARTS_V2: quark0/darts@f276dd3 cnn/genotypes.py (DARTS = DARTS_V2 since a00cad0)
  PC_DARTS_cifar, PC_DARTS_image: yuhuixu1993/PC-DARTS@b74702f genotypes.py
  MILENAS_2_34, MILENAS_2_50: decoded from MiLeNAS paper Fig. 5 (2.34% / 3.87M, 2.50% / 2.86M);
    the order of the two inputs inside a node is not recoverable and changes nothing.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from stretchnas.method.genotype import DartsGenotype, Genotype, GenotypeError

C4 = [2, 3, 4, 5]

DARTS_FORMAT = {
    "DARTS_V1": DartsGenotype(
        normal=[
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0),
            ("skip_connect", 0),
            ("sep_conv_3x3", 1),
            ("skip_connect", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0),
            ("skip_connect", 2),
        ],
        normal_concat=C4,
        reduce=[
            ("max_pool_3x3", 0),
            ("max_pool_3x3", 1),
            ("skip_connect", 2),
            ("max_pool_3x3", 0),
            ("max_pool_3x3", 0),
            ("skip_connect", 2),
            ("skip_connect", 2),
            ("avg_pool_3x3", 0),
        ],
        reduce_concat=C4,
    ),
    "DARTS_V2": DartsGenotype(
        normal=[
            ("sep_conv_3x3", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1),
            ("skip_connect", 0),
            ("skip_connect", 0),
            ("dil_conv_3x3", 2),
        ],
        normal_concat=C4,
        reduce=[
            ("max_pool_3x3", 0),
            ("max_pool_3x3", 1),
            ("skip_connect", 2),
            ("max_pool_3x3", 1),
            ("max_pool_3x3", 0),
            ("skip_connect", 2),
            ("skip_connect", 2),
            ("max_pool_3x3", 1),
        ],
        reduce_concat=C4,
    ),
    "PC_DARTS_cifar": DartsGenotype(
        normal=[
            ("sep_conv_3x3", 1),
            ("skip_connect", 0),
            ("sep_conv_3x3", 0),
            ("dil_conv_3x3", 1),
            ("sep_conv_5x5", 0),
            ("sep_conv_3x3", 1),
            ("avg_pool_3x3", 0),
            ("dil_conv_3x3", 1),
        ],
        normal_concat=C4,
        reduce=[
            ("sep_conv_5x5", 1),
            ("max_pool_3x3", 0),
            ("sep_conv_5x5", 1),
            ("sep_conv_5x5", 2),
            ("sep_conv_3x3", 0),
            ("sep_conv_3x3", 3),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 2),
        ],
        reduce_concat=C4,
    ),
    "PC_DARTS_image": DartsGenotype(
        normal=[
            ("skip_connect", 1),
            ("sep_conv_3x3", 0),
            ("sep_conv_3x3", 0),
            ("skip_connect", 1),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 3),
            ("sep_conv_3x3", 1),
            ("dil_conv_5x5", 4),
        ],
        normal_concat=C4,
        reduce=[
            ("sep_conv_3x3", 0),
            ("skip_connect", 1),
            ("dil_conv_5x5", 2),
            ("max_pool_3x3", 1),
            ("sep_conv_3x3", 2),
            ("sep_conv_3x3", 1),
            ("sep_conv_5x5", 0),
            ("sep_conv_3x3", 3),
        ],
        reduce_concat=C4,
    ),
    "MILENAS_2_34": DartsGenotype(
        normal=[
            ("sep_conv_3x3", 0),
            ("sep_conv_3x3", 1),
            ("dil_conv_3x3", 0),
            ("sep_conv_3x3", 1),
            ("skip_connect", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0),
            ("sep_conv_5x5", 1),
        ],
        normal_concat=C4,
        reduce=[
            ("dil_conv_3x3", 0),
            ("sep_conv_3x3", 1),
            ("max_pool_3x3", 0),
            ("skip_connect", 2),
            ("skip_connect", 2),
            ("dil_conv_5x5", 3),
            ("max_pool_3x3", 0),
            ("skip_connect", 2),
        ],
        reduce_concat=C4,
    ),
    "MILENAS_2_50": DartsGenotype(
        normal=[
            ("sep_conv_3x3", 0),
            ("sep_conv_3x3", 1),
            ("skip_connect", 0),
            ("sep_conv_3x3", 1),
            ("skip_connect", 0),
            ("skip_connect", 1),
            ("skip_connect", 0),
            ("sep_conv_5x5", 1),
        ],
        normal_concat=C4,
        reduce=[
            ("max_pool_3x3", 0),
            ("max_pool_3x3", 1),
            ("max_pool_3x3", 0),
            ("skip_connect", 2),
            ("max_pool_3x3", 0),
            ("skip_connect", 2),
            ("avg_pool_3x3", 0),
            ("skip_connect", 2),
        ],
        reduce_concat=C4,
    ),
}

ALIASES = {"DARTS": "DARTS_V2", "PCDARTS": "PC_DARTS_cifar"}


def published_names() -> list[str]:
    return sorted(DARTS_FORMAT) + sorted(ALIASES)


def get_genotype(name_or_path: str) -> Genotype:
    """A published genotype by name, or a genotype JSON file by path."""
    name = ALIASES.get(name_or_path, name_or_path)
    if name in DARTS_FORMAT:
        genotype = Genotype.from_darts(DARTS_FORMAT[name])
        return Genotype(genotype.normal, genotype.reduce, {"name": name}).validate()
    if name_or_path.endswith(".json") or Path(name_or_path).exists():
        return Genotype.load(name_or_path)
    by_lower = {known.lower(): known for known in published_names()}
    close = [by_lower[m] for m in difflib.get_close_matches(name_or_path.lower(), by_lower, n=3, cutoff=0.6)]
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    raise GenotypeError(f"{name_or_path!r} is neither a published genotype {published_names()} nor a JSON file{hint}")
