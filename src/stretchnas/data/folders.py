"""Where the workflow keeps a scale's prepared data (a light module: the Snakefile's plan reads it)."""


def prepared_folder(scale: str, imagenet: bool = False) -> str:
    """data/prepared/<scale>, or data/prepared/<scale>-imagenet for data.imagenet's data (Table 2)."""
    return f"data/prepared/{scale}{'-imagenet' if imagenet else ''}"
