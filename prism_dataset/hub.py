"""Export built splits as a Hub-ready Parquet folder and push it with ``huggingface_hub``.

Layout (what ``Dataset.push_to_hub`` writes, so both tools can update the same repository)::

    DIR/README.md                                   dataset card: YAML `configs`, `dataset_info`
    DIR/<config>/<split>-00000-of-00001.parquet     rows with embedded image bytes

The card's YAML lists every exported config (``load_dataset(DIR, "synthetic")``; ``v1`` is the
default when present), its features (so ClassLabel names survive), licence and the provenance
of each config; exporting another config into the same folder adds it to the card. ``push``
uploads such a folder in one commit, merging the card with the one already on the Hub. The
token comes from ``HF_TOKEN`` (or a saved ``hf auth login``) and is never logged.
"""
from __future__ import annotations

import json
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any

from prism_core.errors import PrismError

from .schema import CITATION, LICENSE

__all__ = ["export_splits", "build_splits", "push_folder", "render_card", "add_build_arguments",
           "splits_from_args", "HubError", "DEFAULT_MAX_SHARD_BYTES"]

DEFAULT_MAX_SHARD_BYTES = 500 * 2 ** 20
CARD = "README.md"


class HubError(PrismError, ValueError):
    """An export or push that cannot be done (shown as one line by the `prism` command)."""


# ---------------------------------------------------------------- building

def build_splits(config_name: str, *, num_proc: int | None = None, cache_dir: str | None = None,
                 **config_kwargs) -> dict:
    """Build a ``PrismBuilder`` config and return {split: Dataset}."""
    from .builder import PrismBuilder
    builder = PrismBuilder(config_name=config_name, cache_dir=cache_dir, **config_kwargs)
    builder.download_and_prepare(num_proc=num_proc if num_proc and num_proc > 1 else None)
    return dict(builder.as_dataset())


# ---------------------------------------------------------------- exporting

def _shards(ds, max_bytes: int) -> int:
    size = ds.data.nbytes if hasattr(ds, "data") else 0
    return max(1, min(len(ds), math.ceil(size / max_bytes))) if len(ds) else 1


def _provenance_summary(ds) -> dict:
    """The provenance shared by a split's rows (fields that vary are listed as 'mixed')."""
    if "provenance" not in ds.column_names or not len(ds):
        return {}
    rows = ds.select_columns(["provenance"]).with_format("arrow")[:]["provenance"].to_pylist()
    out = {}
    for key in rows[0]:
        values = Counter(json.dumps(r.get(key), sort_keys=True) for r in rows)
        out[key] = json.loads(next(iter(values))) if len(values) == 1 else "mixed"
    return out


def export_splits(splits: dict, out_dir: str | os.PathLike, config_name: str, *,
                  max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES, license: str = LICENSE,
                  regenerate: str | None = None) -> Path:
    """Write {split: Dataset} as ``out_dir/<config>/<split>-*.parquet`` with embedded images
    and add the config to ``out_dir/README.md``; returns ``out_dir``."""
    import datasets
    from datasets.table import embed_table_storage

    if not splits:
        raise HubError(f"config {config_name!r}: nothing to export (no splits)")
    out = Path(out_dir)
    (out / config_name).mkdir(parents=True, exist_ok=True)
    features = None
    info = datasets.DatasetInfo(config_name=config_name, splits=datasets.SplitDict(),
                                download_size=0, dataset_size=0)
    provenance = {}
    for split, ds in splits.items():
        if features is not None and ds.features != features:
            raise HubError(f"config {config_name!r}: split {split!r} has other features than the "
                           f"other splits")
        features = ds.features
        for stale in (out / config_name).glob(f"{split}-*.parquet"):
            stale.unlink()
        n = _shards(ds, max_shard_bytes)
        written = 0
        bars = datasets.are_progress_bars_disabled()
        datasets.disable_progress_bars()
        try:
            for i in range(n):
                shard = ds.shard(num_shards=n, index=i, contiguous=True).with_format("arrow")
                shard = shard.map(embed_table_storage, batched=True, keep_in_memory=True)
                path = out / config_name / f"{split}-{i:05d}-of-{n:05d}.parquet"
                shard.to_parquet(str(path))
                written += path.stat().st_size
        finally:
            if not bars:
                datasets.enable_progress_bars()
        info.splits.add(datasets.SplitInfo(name=split, num_examples=len(ds),
                                           num_bytes=ds.data.nbytes))
        info.download_size += written
        info.dataset_size += ds.data.nbytes
        provenance[split] = _provenance_summary(ds)
    info.features = features
    existing = (out / CARD).read_text(encoding="utf-8") if (out / CARD).is_file() else None
    card = render_card(existing, config_name, info, provenance, license=license,
                       regenerate=regenerate)
    (out / CARD).write_text(card, encoding="utf-8")
    return out


def render_card(existing: str | None, config_name: str, info, provenance: dict, *,
                license: str = LICENSE, regenerate: str | None = None) -> str:
    """The dataset card with ``config_name`` added to (or replaced in) ``existing``."""
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard, DatasetCardData

    data = DatasetCard(existing).data if existing else DatasetCardData()
    defaults = {"license": license, "pretty_name": "PRISM",
                "task_categories": ["image-text-to-text", "text-classification"],
                "tags": ["privacy", "attribute-inference", "multimodal", "synthetic"]}
    for key, value in defaults.items():
        if not data.get(key):
            data[key] = value
    configs = MetadataConfigs.from_dataset_card_data(data)
    entry = {"data_files": [{"split": s, "path": f"{config_name}/{s}-*"} for s in info.splits]}
    names = set(configs) | {config_name}
    if "v1" in names:   # the published release is what a bare load_dataset(...) should give
        for name, cfg in configs.items():
            cfg.pop("default", None)
        if config_name == "v1":
            entry["default"] = True
        else:
            configs["v1"]["default"] = True
    MetadataConfigs({**configs, config_name: entry}).to_dataset_card_data(data)
    DatasetInfosDict({config_name: info}).to_dataset_card_data(data)
    prism = dict(data.get("prism") or {})
    prism[config_name] = {"provenance": provenance, "regenerate": regenerate}
    data["prism"] = dict(sorted(prism.items()))
    return f"---\n{data.to_yaml()}\n---\n{_card_body(data)}"


def _card_body(data) -> str:
    infos = data.get("dataset_info") or []
    infos = [infos] if isinstance(infos, dict) else infos
    rows = []
    for cfg in infos:
        for split in cfg.get("splits") or []:
            rows.append(f"| `{cfg['config_name']}` | `{split['name']}` | {split['num_examples']} |")
    lines = [
        "# PRISM: auditing multi-modal LLMs for private-attribute inference", "",
        "Social-media users with posts (text and images), topics, and their 12 private "
        "attributes (age, sex, education, occupation, income, relationship, location, "
        "appearance, shopping habits, hobbies, health, religion). Synthetic users also carry "
        "their `leakage` plan: which post reveals which attribute, through text or image, "
        "explicitly or implicitly. Paper: [arXiv:2511.03248](https://arxiv.org/abs/2511.03248). "
        "All users are fictional.", "",
        "## Configurations", "", "| config | split | users |", "|---|---|---|", *rows, "",
        "## Loading", "", "```python", "from datasets import load_dataset",
        "ds = load_dataset(\"<this repository or folder>\", \"synthetic\", split=\"train\")",
        "row = ds[0]",
        "sex = ds.features[\"attributes\"][\"sex\"].int2str(row[\"attributes\"][\"sex\"])  "
        "# closed categories are ClassLabels",
        "```", "",
        "## Provenance", ""]
    for name, entry in (data.get("prism") or {}).items():
        lines.append(f"### `{name}`")
        lines.append("")
        for split, prov in (entry.get("provenance") or {}).items():
            shown = ", ".join(f"{k}: `{v}`" for k, v in prov.items() if v is not None)
            lines.append(f"- `{split}`: {shown or 'not recorded'}")
        if entry.get("regenerate"):
            lines += ["", "Regenerate with the `prism` toolkit:", "", "```bash",
                      entry["regenerate"], "```"]
        lines.append("")
    lines += ["## Licence", "", f"{data.get('license')}. The `v1` config reproduces the published PRISM "
              "v1 release; synthetic configs are generated by the PRISM toolkit.", "",
              "## Citation", "", "```bibtex", *CITATION.splitlines(), "```", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- pushing

def _hub_token(token: str | None = None) -> str:
    """The token to push with: the argument, HF_TOKEN, or a saved `hf auth login` (never printed)."""
    from huggingface_hub import get_token
    token = token or os.environ.get("HF_TOKEN") or get_token()
    if not token:
        raise HubError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (a token with "
                       "write access, from https://huggingface.co/settings/tokens)")
    return token


def check_push_access(token: str | None = None) -> str:
    """Fail early, before any export work: no token, an offline setting, an unreachable Hub or a
    rejected token each give one line. Returns the account name."""
    from huggingface_hub import HfApi, constants
    token = _hub_token(token)
    if constants.HF_HUB_OFFLINE:
        raise HubError("HF_HUB_OFFLINE is set: pushing needs the Hub; unset it to push")
    try:
        who = HfApi(token=token).whoami()
    except Exception as exc:  # httpx connection errors, HTTP 401, ...: one line, no traceback
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise HubError(f"cannot use the Hub at {constants.ENDPOINT} with this token "
                       f"({type(exc).__name__}: {reason})") from None
    return str(who.get("name") or who.get("fullname") or "?") if isinstance(who, dict) else "?"


def push_folder(folder: str | os.PathLike, repo_id: str, *, private: bool | None = None,
                revision: str | None = None, commit_message: str | None = None,
                token: str | None = None) -> Any:
    """Upload an exported folder to the dataset repository ``repo_id`` in one commit.

    The card is merged with the repository's (configs exported elsewhere stay listed); Parquet
    files of the uploaded configs that the folder no longer has are deleted.
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    folder = Path(folder)
    if not (folder / CARD).is_file():
        raise HubError(f"{folder}: no {CARD}; export a config there first (prism export --out)")
    from huggingface_hub import DatasetCard
    local_text = (folder / CARD).read_text(encoding="utf-8")
    local = DatasetCard(local_text)
    configs = [c["config_name"] for c in local.data.get("configs") or []]
    if not configs:
        raise HubError(f"{folder / CARD}: no `configs` in its YAML header")
    api = HfApi(token=_hub_token(token))
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    try:
        remote_files = api.list_repo_files(repo_id, repo_type="dataset", revision=revision)
    except (RepositoryNotFoundError, EntryNotFoundError):
        remote_files = []
    card_text = local_text
    if CARD in remote_files:
        remote = Path(api.hf_hub_download(repo_id, CARD, repo_type="dataset", revision=revision))
        card_text = _merge_cards(remote.read_text(encoding="utf-8"), local)
    files = sorted(p for c in configs for p in (folder / c).glob("*.parquet"))
    adds = [CommitOperationAdd(path_in_repo=p.relative_to(folder).as_posix(), path_or_fileobj=str(p))
            for p in files]
    adds.append(CommitOperationAdd(path_in_repo=CARD, path_or_fileobj=card_text.encode("utf-8")))
    uploading = {a.path_in_repo for a in adds}
    deletes = [CommitOperationDelete(path_in_repo=f) for f in remote_files
               if f.endswith(".parquet") and f.split("/", 1)[0] in configs and f not in uploading]
    return api.create_commit(repo_id, operations=adds + deletes, repo_type="dataset",
                             revision=revision,
                             commit_message=commit_message or f"Upload PRISM config(s) "
                             f"{', '.join(configs)}")


def _merge_cards(remote_text: str, local) -> str:
    """The remote card with every config of the local card added (local wins per config)."""
    import datasets
    from datasets.info import DatasetInfosDict
    text = remote_text
    infos = DatasetInfosDict.from_dataset_card_data(local.data)
    prism = local.data.get("prism") or {}
    for cfg in local.data.get("configs") or []:
        name = cfg["config_name"]
        info = infos.get(name) or datasets.DatasetInfo(config_name=name)
        entry = prism.get(name) or {}
        text = render_card(text, name, info, entry.get("provenance") or {},
                           license=local.data.get("license") or LICENSE,
                           regenerate=entry.get("regenerate"))
    return text


# ---------------------------------------------------------------- command line

def add_build_arguments(parser) -> None:
    """Options that choose and build a config (shared by `prism export` and `prism push`)."""
    g = parser.add_argument_group("what to build")
    g.add_argument("--config", choices=["v1", "synthetic"], default=None,
                   help="builder config to build and export")
    g.add_argument("--data-dir", default=None, help="v1: a local release folder (else the Hub)")
    g.add_argument("--n-users", type=int, default=100, help="synthetic: users to generate")
    g.add_argument("--seed", type=int, default=0, help="synthetic: seed")
    g.add_argument("--prior", default="default", help="synthetic: prior name or YAML path")
    g.add_argument("--posts-per-user", type=int, default=3,
                   help="synthetic: posts written per user (default 3)")
    g.add_argument("--text-backend", default="template", help="template, hf or openai")
    g.add_argument("--text-model", default=None, help="model id/path for hf or openai")
    g.add_argument("--image-backend", default="placeholder",
                   help="none, placeholder or diffusers")
    g.add_argument("--image-model", default=None, help="diffusers model id or local path")
    g.add_argument("--image-size", type=int, default=256,
                   help="synthetic: side of the square images in pixels (default 256)")
    g.add_argument("--backend-options", default=None, metavar="JSON",
                   help='e.g. \'{"text": {"base_url": "http://...", "temperature": 0.8}, '
                        '"image": {"steps": 25}}\'')
    g.add_argument("--cache-dir", default=None, help="the datasets cache of the build")
    g.add_argument("--generation-cache-dir", default=None,
                   help="synthetic: cache of model answers and images (default "
                        "$PRISM_CACHE_DIR/generation or ~/.cache/prism/generation)")
    g.add_argument("--num-proc", type=int, default=1, help="processes for the build")


def _synthetic_kwargs(args) -> dict:
    try:
        options = json.loads(args.backend_options) if args.backend_options else {}
    except json.JSONDecodeError as exc:
        raise HubError(f"--backend-options is not JSON: {exc}") from None
    return {"n_users": args.n_users, "seed": args.seed, "prior": args.prior,
            "posts_per_user": args.posts_per_user, "text_backend": args.text_backend,
            "text_model": args.text_model, "image_backend": args.image_backend,
            "image_model": args.image_model, "image_size": args.image_size,
            "backend_options": options, "generation_cache_dir": args.generation_cache_dir}


def _regenerate_command(args) -> str:
    if args.config == "v1":
        return "prism export --config v1 --out DIR"
    parts = ["prism export --config synthetic", f"--n-users {args.n_users}", f"--seed {args.seed}",
             f"--prior {args.prior}", f"--posts-per-user {args.posts_per_user}",
             f"--text-backend {args.text_backend}"]
    if args.text_model:
        parts.append(f"--text-model {args.text_model}")
    parts.append(f"--image-backend {args.image_backend}")
    if args.image_model:
        parts.append(f"--image-model {args.image_model}")
    parts.append(f"--image-size {args.image_size}")
    if args.backend_options:
        parts.append(f"--backend-options '{args.backend_options}'")
    return " ".join(parts) + " --out DIR"


def splits_from_args(args) -> tuple[dict, str]:
    """Build the config the command line asks for: ({split: Dataset}, regenerate command)."""
    if args.config is None:
        raise HubError("choose --config v1 or --config synthetic")
    if args.config == "v1":
        splits = build_splits("v1", num_proc=args.num_proc, cache_dir=args.cache_dir,
                              data_dir=args.data_dir)
    else:
        splits = build_splits("synthetic", num_proc=args.num_proc, cache_dir=args.cache_dir,
                              **_synthetic_kwargs(args))
    return splits, _regenerate_command(args)
