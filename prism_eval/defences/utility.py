"""What a defence costs the post: utility measures beside the leakage it removes.

Text, per post with text, original against defended:

- **words changed**: the word-level edit distance (insertions, deletions, substitutions of
  whitespace-separated words; ``rapidfuzz.distance.Levenshtein`` over word lists) over the
  original's word count, capped at 1, averaged over posts (and pooled over all words);
- **chrF**: sacreBLEU's sentence chrF (character n-gram F-score, 0-100; 100 = unchanged), the
  standard, reproducible similarity score for rewrites; averaged over posts.

Images, per image the original has: the share **removed**, the mean share of the area
**hidden** (blurred or pixelated) over all images (a removed image counts as fully hidden), and
the share **re-encoded** (bytes changed: metadata stripped, downscaled, hidden).
"""
from __future__ import annotations

from dataclasses import dataclass

from prism_core.errors import PrismError

__all__ = ["Utility", "text_cost"]


def _libs():
    try:
        from rapidfuzz.distance import Levenshtein
        from sacrebleu.metrics import CHRF
    except ImportError as exc:
        raise PrismError(f"the utility cost of a defence needs {exc.name}: pip install "
                         "'prism-privacy[defences]' (in a clone: pip install -c constraints.txt "
                         "-e '.[defences]')") from None
    return Levenshtein, CHRF()


def text_cost(original: str, defended: str) -> tuple[float, int, float]:
    """(share of words changed, words changed, chrF 0-100) of one post."""
    lev, chrf = _libs()
    a, b = original.split(), (defended or "").split()
    changed = lev.distance(a, b)
    share = min(1.0, changed / len(a)) if a else float(bool(b))
    score = 100.0 if original == defended else chrf.sentence_score(defended or "", [original]).score
    return share, changed, score


@dataclass
class Utility:
    """Running totals of the cost of one defence over a dataset (see module docstring)."""
    posts: int = 0
    posts_changed: int = 0
    words: int = 0
    words_changed: int = 0
    share_sum: float = 0.0
    chrf_sum: float = 0.0
    images: int = 0
    removed: int = 0
    hidden_sum: float = 0.0
    reencoded: int = 0

    def add_text(self, original: str | None, defended: str | None) -> None:
        if not original:
            return
        share, changed, chrf = text_cost(original, defended or "")
        self.posts += 1
        self.posts_changed += int(original != defended)
        self.words += len(original.split())
        self.words_changed += changed
        self.share_sum += share
        self.chrf_sum += chrf

    def add_image(self, original: bytes | None, defended: bytes | None, hidden: float) -> None:
        if original is None:
            return
        self.images += 1
        if defended is None:
            self.removed += 1
            self.hidden_sum += 1.0
            return
        self.hidden_sum += hidden
        self.reencoded += int(defended != original)

    def as_dict(self) -> dict:
        def mean(total, n):
            return round(total / n, 6) if n else None
        return {
            "text": {"posts": self.posts, "posts_changed": mean(self.posts_changed, self.posts),
                     "words_changed": mean(self.share_sum, self.posts),
                     "words_changed_pooled": mean(self.words_changed, self.words),
                     "chrf": mean(self.chrf_sum, self.posts)},
            "image": {"images": self.images, "removed": mean(self.removed, self.images),
                      "hidden_area": mean(self.hidden_sum, self.images),
                      "reencoded": mean(self.reencoded, self.images)},
        }
