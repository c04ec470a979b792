"""The ``smspolicy pinpoint`` commands: ``import-endpoints`` and ``convert``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from .._clock import Clock, FrozenClock, SystemClock
from .._engine import Engine
from ..rules import consent
from ..store import SQLiteStore
from ._endpoints import import_endpoints

__all__ = ["add_commands"]


def import_command(args: argparse.Namespace) -> int:
    """Import endpoint export files; print the summary. Exit status 1 when a line had an
    error (the other lines are imported)."""
    from .._cli_output import Progress
    from ..cli import _db_path, _instant

    at = _instant(args.at)
    clock: Clock = FrozenClock(at) if at else SystemClock()
    engine = Engine(consent(), SQLiteStore(_db_path(args.db)), clock)
    bar = Progress(None, not args.quiet, unit="lines")
    try:
        summary = import_endpoints(
            engine,
            args.exports,
            grant=args.grant,
            purpose=args.purpose,
            topic=args.topic,
            brand=args.brand,
            progress=bar.add,
        )
    finally:
        bar.close()
    print(summary.report())
    return 1 if summary.error_count else 0


def convert_command(args: argparse.Namespace) -> int:
    """Print (or write) the policy file converted from Pinpoint settings JSON."""
    from ..cli import UsageError
    from ._convert import convert_file

    text = convert_file(args.settings, topic=args.topic)
    if args.out:
        try:
            with open(args.out, "w", encoding="utf-8") as out:
                out.write(text)
        except OSError as error:
            raise UsageError(f"cannot write --out {args.out}: {error.strerror}") from None
    else:
        sys.stdout.write(text)
    return 0


def add_commands(commands: Any, common: Callable[..., None]) -> None:
    """Add the ``pinpoint`` command group to the ``smspolicy`` parser."""
    group = commands.add_parser("pinpoint", help="move off Pinpoint campaigns and journeys")
    actions = group.add_subparsers(dest="action", required=True)
    imp = actions.add_parser(
        "import-endpoints", help="import endpoint export files (NDJSON, optionally gzip)"
    )
    imp.add_argument("exports", nargs="+", help="export files as written to S3")
    imp.add_argument(
        "--grant",
        choices=("express", "purchase", "inquiry", "soft_opt_in", "non_business"),
        help="record consent on this basis for active endpoints that are not opted out "
        "(only when you hold the consent records elsewhere)",
    )
    imp.add_argument(
        "--purpose",
        default="marketing",
        choices=("marketing", "transactional"),
        help="the purpose a --grant covers (default marketing)",
    )
    imp.add_argument("--topic", help="the topic a --grant covers (default: every topic)")
    imp.add_argument("--brand", help="the brand a --grant covers (default: every brand)")
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    common(imp, policy=False)
    imp.set_defaults(run=import_command)
    conv = actions.add_parser(
        "convert", help="convert GetCampaign/GetJourney/GetApplicationSettings JSON to a policy"
    )
    conv.add_argument("settings", help="the JSON of one response")
    conv.add_argument("--topic", help="the topic the campaign's messages are sent with")
    conv.add_argument("--out", help="write the policy file here (default: standard output)")
    conv.set_defaults(run=convert_command)
