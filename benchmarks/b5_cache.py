"""B5 cache: bytes per cached recipient in the engine's resolver, and the default bound.

Run: python benchmarks/b5_cache.py [COUNT]
"""

from __future__ import annotations

import gc
import sys
import tracemalloc

from _common import machine
from _numbers import us_numbers

from smspolicy import Resolver
from smspolicy._recipients import DEFAULT_CACHE_SIZE


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    numbers = us_numbers(count)
    resolver = Resolver()
    resolver.resolve(numbers[0])  # load phonenumbers' metadata before measuring
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for number in numbers:
        resolver.resolve(number)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    per = (after - before) / count
    print(f"B5 on {machine()}: {count} numbers resolved and cached")
    print(
        f"B5 cache: {per:,.0f} bytes per cached recipient | default bound "
        f"{DEFAULT_CACHE_SIZE:,} recipients = about {per * DEFAULT_CACHE_SIZE / 2**20:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
