"""The scoring functions the run uses (imported lazily: scoring pulls in the normalisers)."""
from __future__ import annotations

__all__ = ["aggregate", "score_batch"]


def aggregate(user_scores):
    from ..scoring import aggregate as _aggregate
    return _aggregate(user_scores)


def score_batch(predictions: list[dict], truths: list[dict], leakages: list, judge) -> list[dict]:
    """Scores of a batch of users (a judge gets all its open questions in one call)."""
    from ..scoring import score_users
    return score_users(predictions, truths, leakage=[lk or None for lk in leakages], judge=judge)
