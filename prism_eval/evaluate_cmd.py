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

from .api import DEFAULT_MODEL, RUNS, RunOptions, evaluate

DATASET_HELP = ("v1 (the release; --data-dir for a local copy), synthetic (generated offline), "
                "hub:OWNER/NAME[@REVISION] (a Hub dataset repository, whatever its layout), or a "
                "folder (release, save_to_disk or Parquet)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="synthetic", help=DATASET_HELP + " (default: synthetic)")
    add_run_arguments(p)
    p.add_argument("--variant", default="chain", choices=list(RUNS), help=VARIANT_HELP)
    p.add_argument("--out", help="output folder (default: prism-runs/<dataset>_<model>_<variant>)")


VARIANT_HELP = ("chain: text, image and synthesis agents (default); text-only: text agent and "
                "synthesis; posts-only: text-only without the topics a user follows; image-only: "
                "image agent and synthesis; single: one prompt with everything")


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by `prism evaluate` and `prism audit`: data, models, chain and run control."""
    p.add_argument("--data-dir", help="local v1 release folder (posts.json, target.json, images/)")
    p.add_argument("--split", help="dataset split (default: test for v1, train for synthetic)")
    p.add_argument("--n-users", type=int, help="synthetic: number of users (default 100)")
    p.add_argument("--seed", type=int, help="synthetic: generation seed")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help="backend spec for every role: lexicon (the keyword baseline, no model), "
                        "dummy, hf:MODEL, openai:MODEL, vllm:MODEL, or an API preset such as "
                        f"gpt-4o (default {DEFAULT_MODEL})")
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
                   help="users per stage call (default 8 for hf models, 128 with vLLM); with API "
                        "models only, users in flight (default twice the concurrency, at least 32)")
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


def run(args) -> int:
    result = evaluate(RunOptions.from_args(args), variant=args.variant)
    if result.summary is not None:  # the main process prints
        print(result)
        print(f"results: {result.results}  summary: {result.folder / 'summary.json'}")
    return 0
