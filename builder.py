"""PRISM loading script: exposes the package's `PrismBuilder` (configs "v1" and "synthetic").

datasets < 4: ``load_dataset("path/to/builder.py", "v1", data_dir=..., trust_remote_code=True)``.
datasets >= 4 runs no scripts: instantiate the class, or load the Parquet export from the Hub.
Requires the ``prism-privacy`` package (``pip install -e .``).
"""
from prism_dataset.builder import PrismBuilder as _PrismBuilder


class Prism(_PrismBuilder):
    """The PRISM builder (defined here so script loaders find a class in this file)."""


PrismBuilder = Prism
