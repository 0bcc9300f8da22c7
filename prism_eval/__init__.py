"""prism_eval: the PRISM evaluation side — backends, inference chain, parsing, scoring, runs, reports.

Importing this package stays light (no torch): heavy backends are imported when built.
"""
__version__ = "0.1.0"
