"""Collects the Python examples of README.md and docs/*.md as tests (Sybil)."""

from __future__ import annotations

import os

from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser


def _services_up() -> bool:
    import socket

    for port in (5432, 6379):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return os.environ.get("CI") == "true"  # under CI a missing service must fail
    return True


def _aws_async() -> bool:
    import importlib.util

    return importlib.util.find_spec("aiobotocore") is not None


pytest_collect_file = Sybil(
    parsers=[PythonCodeBlockParser(), SkipParser()],
    patterns=["README.md", "docs/*.md"],
    setup=lambda namespace: namespace.update(services_up=_services_up(), aws_async=_aws_async()),
).pytest()
