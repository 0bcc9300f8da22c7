"""`prism warn`: which attributes a draft post reveals, or newly reveals, before it is posted.

Examples::

    prism warn "Just got my nursing badge at St. Mary's, 29 and finally debt-free!"
    prism warn "Back at work" --image badge.jpg --history my_posts.json --json
    prism warn "..." --model gpt-4o                  # a real model infers more than keywords
    prism warn --serve                               # the web page on http://127.0.0.1:8765/

The default model is the offline ``lexicon`` (explicit cues in the text, OCR in the picture).
``--history`` is a JSON list (texts, or {"text", "image": path}), JSON lines, or one post per
line. ``--serve`` needs the ``web`` extra (Flask).
"""
from __future__ import annotations

import argparse
import sys



def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", nargs="?", help="the draft post (use - to read it from stdin)")
    p.add_argument("--image", help="a picture attached to the draft")
    p.add_argument("--history", help="the user's earlier posts (JSON list, JSON lines or text "
                                     "lines), to tell what is new")
    p.add_argument("--model", default="lexicon",
                   help="backend spec for every role (default lexicon: offline keywords + OCR)")
    p.add_argument("--role", action="append", default=[], metavar="ROLE=SPEC",
                   help="model of one role (text, image, synthesis); repeatable")
    p.add_argument("--backend-option", action="append", default=[], metavar="[ROLE.]KEY=VALUE",
                   help="backend constructor option; repeatable")
    p.add_argument("--json", action="store_true", help="print JSON instead of the message")
    p.add_argument("--serve", action="store_true",
                   help="serve the warning web page locally instead (needs the web extra)")
    p.add_argument("--host", default="127.0.0.1", help="--serve: address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="--serve: port (default 8765)")


def _backend_options(items: list[str]) -> dict:
    from .api import RunOptions
    return RunOptions(backend_options=list(items)).option_table()


def run(args) -> int:
    from prism_core.errors import PrismError
    options = _backend_options(args.backend_option)
    if args.serve:
        from .web import serve
        serve(host=args.host, port=args.port, model=args.model, roles=args.role,
              backend_options=options)
        return 0
    text = sys.stdin.read() if args.text == "-" else args.text
    if not text and not args.image:
        raise PrismError("give the draft post's text (or --image), or --serve")
    from .warn import warn
    result = warn(text, args.image, args.history, model=args.model, roles=args.role,
                  backend_options=options)
    print(result.to_json(indent=2) if args.json else result.message())
    return 0
