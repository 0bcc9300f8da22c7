"""The scoring a run does: each batch of users scored together (a judge gets all its open
questions in one call), and the summary's aggregate."""
from __future__ import annotations

from ..scoring import aggregate, score_users

__all__ = ["aggregate", "score_batch"]


def score_batch(predictions: list[dict], truths: list[dict], leakages: list, judge) -> list[dict]:
    """Scores of a batch of users (a judge gets all its open questions in one call)."""
    return score_users(predictions, truths, leakage=[lk or None for lk in leakages], judge=judge)
