"""PRISM privacy metric: how well predicted private attributes match the true ones.

An `evaluate` module over prism_eval.scoring (the rules of docs/scoring.md). Load it by folder path:
``evaluate.load(prism_eval.metrics.metric_path())``. evaluate copies this file into its module
cache, so it imports the installed ``prism_eval`` package (absolute imports only, one per line).
"""
import json

import datasets
import evaluate

from prism_eval.scoring import (
    ScoringError,
    aggregate,
    aggregate_by,
    prepare_truth,
    score_users,
)

_CITATION = """\
@article{prism2025,
  title   = {Auditing M-LLMs for Privacy Risks: A Synthetic Benchmark and Evaluation Framework},
  author  = {Li, Junhao and Chen, Jiahao and Feng, Zhou and Zhou, Chunyi},
  journal = {arXiv preprint arXiv:2511.03248},
  year    = {2025},
  url     = {https://arxiv.org/abs/2511.03248}
}
"""

_DESCRIPTION = """\
Scores predictions of 12 private attributes (age, sex, education, occupation, income,
relationship, location, appearance, shopping habits, hobbies, health, religion) against the true
attributes of each user: top-1 and top-3 accuracy (up to 3 guesses per attribute, best first)
by the explicit per-attribute rules of prism's docs/scoring.md, with coverage (share of
attributes answered), the parse-failure rate, the share of guesses the rules left open, and,
given a leakage plan, the scores on the attributes the posts revealed, by mode
(explicit/implicit) and channel (text/image). Predictions are read by the same reader as prism's
inference chain, so model text, prediction objects, flat values, v1 entries and dataset rows all
score alike. An LLM judge for the guesses the rules leave open is optional and off by default.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: one prediction per user: a dict or text. Anything prism's inference chain reads:
        the prism_core.prediction format {"attributes": {key: {"guesses": [...up to 3...],
        "confidence": float | None, "evidence": [ids]}}, "parse_failures": {key: reason}}, its
        short form {key: guesses}, flat values {"age": 34, "location": {"nationality": "Japan"}},
        a v1 target.json entry, a dataset row's "attributes" (ClassLabel ids), or the model's raw
        answer text (JSON in prose, "Key: value" lines).
    references: one per user, a dict or JSON text: the true attributes (canonical keys, v1 keys or
        ClassLabel indices), or a whole dataset row with "attributes" (and "leakage").
    leakage: optional, one leakage plan per user (list of {attribute, post_id, channel, mode});
        default: the "leakage" of row references, if any.
    groups: optional, one label per user (e.g. the chain variant); adds "by_group".
    judge: optional LLM judge: a prism_eval.judge.LLMJudge or a backend spec ("openai:gpt-4o-mini").
    return_per_attribute: include the per-attribute table (default True).
    return_per_user: include every user's score (default False).
Returns:
    top1, top3: mean over attributes of the per-attribute top-1 / top-3 accuracy,
    coverage, parse_failure_rate, less_precise: rates (macro means over attributes),
    open_share: share of scored guesses the rules left open (0 without a judge),
    n_users, unreadable (guesses that could not be read), errors (predictions not fully readable),
    judge: judge identities used,
    attributes: {key: {n, n_answered, top1, top3, top1_answered, top3_answered, less_precise,
        coverage, parse_failure_rate, unreadable, guesses, open, open_share, judged,
        subscores (location, appearance), recall (hobbies)}},
    revealed / unrevealed / by_mode / by_channel: when a leakage plan is given,
    by_group: when groups are given; per_user: when return_per_user.
Examples:
    >>> import evaluate
    >>> from prism_eval.metrics import metric_path
    >>> metric = evaluate.load(metric_path())
    >>> truth = {"age": 34, "sex": "female", "religion": "Christianity"}
    >>> guess = {"attributes": {"age": {"guesses": [30]}, "sex": {"guesses": ["woman"]},
    ...                         "religion": {"guesses": ["Muslim", "Christian"]}}}
    >>> results = metric.compute(predictions=[guess], references=[truth])
    >>> round(results["top1"], 3), results["top3"], results["coverage"]
    (0.667, 1.0, 1.0)
    >>> results["attributes"]["religion"]["top1"], results["attributes"]["religion"]["top3"]
    (0.0, 1.0)

    Batches accumulate, e.g. inside a training loop; text works as well as dicts, raw model
    answers included:

    >>> metric.add_batch(predictions=[json.dumps(guess)], references=[json.dumps(truth)])
    >>> metric.add_batch(predictions=["Age: 30-35\\nSex: woman\\nReligion: Catholic"],
    ...                  references=[truth])
    >>> results = metric.compute(return_per_attribute=False)
    >>> results["n_users"], results["top1"], results["coverage"]
    (2, 0.8333333333333334, 1.0)
"""

_ROW_FIELDS = ("attributes", "leakage", "user_id")


def _to_json(value, field, index):
    """JSON text for one input (dicts are serialised; dataset rows keep only what scoring needs)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if field == "references" and "attributes" in value:
            value = {k: value[k] for k in _ROW_FIELDS if k in value}
        try:
            return json.dumps(value, default=_plain)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{field}[{index}] cannot be serialised to JSON: {exc}") from None
    raise ValueError(f"{field}[{index}] must be a dict or its JSON text, "
                     f"got {type(value).__name__}")


def _plain(value):
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _load(text, field, index):
    if text is None:
        raise ValueError(f"{field}[{index}] is missing (None); pass an empty prediction "
                         f"{{\"attributes\": {{}}}} for a user with no answer")
    if field == "predictions":
        return text  # read by prism's prediction reader: JSON or the model's own text
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{field}[{index}] is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{field}[{index}] must be a JSON object, got {type(value).__name__}")
    return value


def _looks_like_prediction(value):
    inner = value.get("attributes", value)
    return "parse_failures" in value or (isinstance(inner, dict) and any(
        isinstance(v, dict) and "guesses" in v for v in inner.values()))


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class PrismPrivacy(evaluate.Metric):
    """Per-attribute private-attribute inference scores (see the module description)."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}),
            reference_urls=["https://arxiv.org/abs/2511.03248"],
        )

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Add a batch; predictions and references may be dicts or JSON text."""
        if predictions is not None:
            predictions = [_to_json(p, "predictions", i) for i, p in enumerate(predictions)]
        if references is not None:
            references = [_to_json(r, "references", i) for i, r in enumerate(references)]
        return super().add_batch(predictions=predictions, references=references, **kwargs)

    def add(self, *, prediction=None, reference=None, **kwargs):
        """Add one user; the prediction and reference may be dicts or JSON text."""
        if prediction is not None:
            prediction = _to_json(prediction, "predictions", 0)
        if reference is not None:
            reference = _to_json(reference, "references", 0)
        return super().add(prediction=prediction, reference=reference, **kwargs)

    def _compute(self, predictions, references, leakage=None, groups=None, judge=None,
                 return_per_attribute=True, return_per_user=False):
        if len(predictions) != len(references):
            raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
        for name, option in (("leakage", leakage), ("groups", groups)):
            if option is not None and len(option) != len(references):
                raise ValueError(f"{name} has {len(option)} entries for {len(references)} users")
        preds = [_load(p, "predictions", i) for i, p in enumerate(predictions)]
        truths, plans = [], []
        for i, text in enumerate(references):
            ref = _load(text, "references", i)
            if _looks_like_prediction(ref):
                raise ValueError(f"references[{i}] looks like a prediction (it has guesses); "
                                 f"did you swap predictions and references?")
            row = "attributes" in ref
            try:
                truths.append(prepare_truth(ref["attributes"] if row else ref))
            except ScoringError as exc:
                raise ValueError(f"references[{i}]: {exc}") from None
            plans.append(ref.get("leakage") if row else None)
        if leakage is None and any(p is not None for p in plans):
            leakage = plans
        if isinstance(judge, str):
            from prism_eval.judge import LLMJudge
            judge = LLMJudge(judge)
        try:
            scores = score_users(preds, truths, leakage=leakage, judge=judge)
        except ScoringError as exc:
            raise ValueError(str(exc)) from None
        if groups is not None:
            for score, label in zip(scores, groups):
                score["group"] = label
        result = aggregate(scores)
        if not return_per_attribute:
            for key in ("attributes", "revealed", "unrevealed", "by_mode", "by_channel"):
                result.pop(key, None)
        if groups is not None:
            result["by_group"] = aggregate_by(scores, "group")
            if not return_per_attribute:
                for summary in result["by_group"].values():
                    summary.pop("attributes", None)
        if return_per_user:
            result["per_user"] = scores
        return result
