"""Attackers: evaluation-side models that read no weights (the keyword ``lexicon`` baseline).

They speak the backend interface, so the chain runs them like any model, and register by name in
:mod:`prism_core.backends`; they live here because they encode evaluation knowledge (what a post
reveals), not model access.
"""
