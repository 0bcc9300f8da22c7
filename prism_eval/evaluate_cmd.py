"""`prism evaluate`: run the inference chain of a model over a PRISM dataset and score it.

Examples::

    prism evaluate --dataset v1 --data-dir prism-v1 --model lexicon
    prism evaluate --dataset synthetic --n-users 50 --model hf:Qwen/Qwen2.5-VL-7B-Instruct
    prism evaluate --dataset v1 --model gpt-4o --role image=hf:Qwen/Qwen2.5-VL-7B-Instruct \\
        --variant chain --no-topics --limit 100 --out runs/mix
    accelerate launch --num_processes 4 -m prism_eval.cli evaluate --dataset v1 --model hf:...
"""
from __future__ import annotations

import argparse
import json
import os
import re

from .chain import VARIANTS as VARIANT_NAMES

DATASET_HELP = ("v1 (the release; --data-dir for a local copy), synthetic (generated offline), or a "
                "folder (release, save_to_disk or Parquet)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help=DATASET_HELP)
    add_run_arguments(p)
    p.add_argument("--variant", default="chain", choices=list(VARIANT_NAMES),
                   help="chain: text + image + synthesis agents (default); single: one prompt")
    p.add_argument("--out", help="output folder (default: prism-runs/<dataset>_<model>_<variant>)")


def add_run_arguments(p: argparse.ArgumentParser, *, model_default: str | None = None,
                      n_users_default: int | None = None) -> None:
    """Options shared by `prism evaluate` and `prism audit`: data, models, chain and run control."""
    p.add_argument("--data-dir", help="local v1 release folder (posts.json, target.json, images/)")
    p.add_argument("--split", help="dataset split (default: test for v1, train for synthetic)")
    p.add_argument("--n-users", type=int, default=n_users_default,
                   help="synthetic: number of users" + (f" (default {n_users_default})" if n_users_default else ""))
    p.add_argument("--seed", type=int, help="synthetic: generation seed")
    p.add_argument("--model", default=model_default,
                   help="backend spec for every role: lexicon, dummy, hf:MODEL, openai:MODEL, "
                        "vllm:MODEL, or an API preset such as gpt-4o"
                        + (f" (default {model_default})" if model_default else ""))
    p.add_argument("--role", action="append", default=[], metavar="ROLE=SPEC",
                   help="model of one role (text, image, synthesis, single); repeatable")
    p.add_argument("--backend-option", action="append", default=[], metavar="[ROLE.]KEY=VALUE",
                   help="backend constructor option, e.g. batch_size=16 or image.max_pixels=401408 "
                        "(VALUE read as JSON when it parses); repeatable")
    p.add_argument("--topics", action=argparse.BooleanOptionalAction, default=True,
                   help="show the topics a user follows to the text agent (default: on)")
    p.add_argument("--image-context", action=argparse.BooleanOptionalAction, default=False,
                   help="give the image agent the text of the image's post (default: off)")
    p.add_argument("--limit", type=int, help="evaluate only the first N users")
    p.add_argument("--batch-size", type=int,
                   help="users per stage call (default 8 for hf models, 32 with an API, 128 with vLLM)")
    p.add_argument("--max-tokens", type=int, help="generation limit of every role")
    p.add_argument("--temperature", type=float, default=0.0, help="sampling temperature (0 = greedy, cached)")
    p.add_argument("--json-mode", action=argparse.BooleanOptionalAction, default=True,
                   help="ask backends for a JSON object where they can (default: on)")
    p.add_argument("--judge", metavar="SPEC", help="LLM judge for open answers (occupation, "
                                                   "shopping habits), e.g. gpt-4o")
    p.add_argument("--overwrite", action="store_true",
                   help="start over in an output folder that holds another configuration")
    p.add_argument("--retry-failed", action="store_true",
                   help="on resume, run again the users recorded as failed or partial (some "
                        "call failed after retries): only their failed calls are sent again")
    p.add_argument("--retry-unparsed", action="store_true",
                   help="on resume, ask again (past the cache) the calls whose answer could not "
                        "be read")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def backend_options(items: list[str]) -> dict[str, dict]:
    """--backend-option [ROLE.]KEY=VALUE -> {"*" or role: {key: value}}."""
    from prism_core.errors import PrismError

    from .chain import ROLES
    out: dict[str, dict] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise PrismError(f"--backend-option {item!r}: expected [ROLE.]KEY=VALUE")
        role, dot, name = key.partition(".")
        if dot and role in ROLES:
            out.setdefault(role, {})[name] = _value(value)
        else:
            out.setdefault("*", {})[key] = _value(value)
    return out


def _device_options(specs: dict[str, str], options: dict[str, dict]) -> None:
    """Under a multi-GPU `accelerate launch`, put each process's hf models on its own GPU."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world < 2 or os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes"):
        return
    local = os.environ.get("LOCAL_RANK")
    if local is None:
        return
    for role, spec in specs.items():
        if spec.startswith("hf:") and "device" not in {**options.get("*", {}), **options.get(role, {})}:
            options.setdefault(role, {})["device"] = f"cuda:{local}"


def default_out(args, root: str = "prism-runs", *, variant: bool = True) -> str:
    """ROOT/<dataset>_<model>[_<variant>], in characters safe for a folder name."""
    parts = [os.path.basename(str(args.dataset).rstrip("/")) or "dataset",
             args.model or "-".join(args.role) or "model"] + ([args.variant] if variant else [])
    return os.path.join(root, re.sub(r"[^A-Za-z0-9._-]+", "-", "_".join(parts)))


def run_variants(args, variants: list[str], out_of, *, cache_path=None) -> list[tuple[str, str, dict | None]]:
    """Run each variant over ``args.dataset`` (loaded once, with one set of backends) into the
    folder ``out_of(variant)``; -> [(variant, folder, summary or None off the main process)]."""
    from prism_core.backends import parse_model_spec

    from .datasets_io import load_users
    from .runner import build_backends, evaluate, resolve_roles

    per_variant = {v: resolve_roles(args.model, args.role, v) for v in variants}
    specs = {r: s for v in variants for r, s in per_variant[v].items()}
    for spec in [*specs.values(), *([args.judge] if args.judge else [])]:
        parse_model_spec(spec)                         # unknown model: one line, did-you-mean
    options = backend_options(args.backend_option)
    _device_options(specs, options)
    dataset, info = load_users(args.dataset, data_dir=args.data_dir, n_users=args.n_users,
                               seed=args.seed, split=args.split)
    backends = build_backends(specs, options)          # missing API key: one line, names it
    chain_options = {"temperature": args.temperature, "json_mode": args.json_mode}
    done = []
    try:
        for variant in variants:
            roles = per_variant[variant]
            options_v = dict(chain_options)
            if args.max_tokens:
                options_v["max_tokens"] = {r: args.max_tokens for r in roles}
            out = out_of(variant)
            summary = evaluate(dataset, {r: backends[r] for r in roles}, out, variant=variant,
                               topics=args.topics, image_context=args.image_context,
                               limit=args.limit, batch_size=args.batch_size, judge=args.judge,
                               overwrite=args.overwrite,
                               progress=not args.no_progress, dataset_info=info,
                               chain_options=options_v, specs=roles,
                               retry_failed=args.retry_failed,
                               retry_unparsed=getattr(args, "retry_unparsed", False),
                               command=f"prism {getattr(args, 'command', None) or 'evaluate'}",
                               cache_path=cache_path)
            done.append((variant, out, summary))
    finally:
        for b in {id(b): b for b in backends.values()}.values():
            b.close()
    return done


def run(args) -> int:
    from .runner import format_table

    out = args.out or default_out(args)
    [(_, _, summary)] = run_variants(args, [args.variant], lambda v: out)
    if summary is not None:  # the main process prints
        print(format_table(summary))
        print(f"results: {os.path.join(out, 'results.jsonl')}  summary: {os.path.join(out, 'summary.json')}")
    return 0
