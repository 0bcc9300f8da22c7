"""`PrismBuilder`: the `datasets` builder for PRISM, configs ``v1`` (published release) and ``synthetic``."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import datasets

from .generation import generate_examples
from .hub_release import fetch_release
from .release import HUB_REPO_ID, Release
from .schema import CITATION, LICENSE, user_features

__all__ = ["PrismBuilder", "PrismConfig", "HUB_REPO_ID", "fetch_release"]

log = logging.getLogger(__name__)


@dataclass
class PrismConfig(datasets.BuilderConfig):
    """Options of both configs; the ``synthetic`` ones are ignored by ``v1``.

    v1: ``data_dir`` (a local release folder) or, when unset, ``repo_id``/``revision`` on the Hub
    (found there whatever the repository's layout: see prism_dataset.hub_release).
    synthetic: ``n_users``, ``seed``, ``prior`` (name or YAML path), ``posts_per_user``,
    ``text_backend`` (template | hf | openai) + ``text_model``, ``image_backend``
    (none | placeholder | diffusers) + ``image_model``, ``image_size``, ``generation_cache_dir``
    (model backends' response/image cache; default $PRISM_CACHE_DIR or ~/.cache/prism, then
    /generation), ``backend_options`` ({"text": {...}, "image": {...}}, see
    prism_dataset.generation.settings).
    """
    repo_id: str = HUB_REPO_ID
    revision: str | None = None
    load_images: bool = True
    n_users: int = 100
    seed: int = 0
    prior: str = "default"
    posts_per_user: int = 3
    text_backend: str = "template"
    text_model: str | None = None
    image_backend: str = "placeholder"
    image_model: str | None = None
    image_size: int = 256
    generation_cache_dir: str | None = None
    backend_options: dict = field(default_factory=dict)


class PrismBuilder(datasets.GeneratorBasedBuilder):
    """PRISM user records: posts with images, topics, the 12 true attributes, leakage plan."""

    BUILDER_CONFIG_CLASS = PrismConfig
    DEFAULT_WRITER_BATCH_SIZE = 64  # users per Arrow write: bounds the images held in memory
    BUILDER_CONFIGS = [
        PrismConfig(name="v1", version=datasets.Version("1.0.0"),
                    description="The published PRISM v1 release (543 users)."),
        PrismConfig(name="synthetic", version=datasets.Version("1.0.0"),
                    description="Users generated from a seeded prior by the agentic workflow."),
    ]
    DEFAULT_CONFIG_NAME = "v1"

    def __init__(self, *args, repo_id: str | None = None, **kwargs):
        # datasets' own ``repo_id`` argument would swallow the PrismConfig option of that name
        self._config_repo_id = repo_id
        super().__init__(*args, **kwargs)

    def _create_builder_config(self, config_name=None, custom_features=None, config_id=None,
                               **config_kwargs):
        """The config, with ``repo_id`` given to PrismBuilder(...) as a config option (so it
        also enters the config id, and two repositories never share a cache folder)."""
        if getattr(self, "_config_repo_id", None) is not None:
            config_kwargs["repo_id"] = self._config_repo_id
        return super()._create_builder_config(config_name, custom_features, config_id,
                                              **config_kwargs)

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description="PRISM: auditing multi-modal LLMs for private-attribute inference.",
            features=user_features(),
            homepage="https://arxiv.org/abs/2511.03248",
            citation=CITATION,
            license=LICENSE,
        )

    def _split_generators(self, dl_manager):
        cfg = self.config
        if cfg.name == "v1":
            root = Path(cfg.data_dir) if cfg.data_dir else fetch_release(
                cfg.repo_id, cfg.revision, images=cfg.load_images,
                token=self.token if isinstance(self.token, str) else None)
            return [datasets.SplitGenerator(name=datasets.Split.TEST,
                                            gen_kwargs={"data_dir": str(root)})]
        return [datasets.SplitGenerator(name=datasets.Split.TRAIN,
                                        gen_kwargs={"user_indices": list(range(cfg.n_users))})]

    def _generate_examples(self, data_dir: str | None = None, user_indices: list[int] | None = None):
        if self.config.name == "v1":
            release = Release(data_dir, load_images=self.config.load_images)
            for record in release.records():
                yield record["user_id"], record
            if release.warnings:
                log.warning("%d image problem(s) in %s; the records keep image=None",
                            len(release.warnings), data_dir)
            for note in release.notes:
                log.warning("%s", note)
        else:
            yield from generate_examples(self.config, user_indices)
