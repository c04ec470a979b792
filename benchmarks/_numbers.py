"""Distinct valid US numbers for the benchmarks (deterministic)."""

from __future__ import annotations

import itertools

import phonenumbers

AREAS = [
    "201",
    "202",
    "203",
    "205",
    "206",
    "207",
    "208",
    "209",
    "210",
    "212",
    "213",
    "214",
    "215",
    "216",
    "217",
    "218",
    "219",
    "224",
    "225",
    "228",
    "229",
    "231",
    "234",
    "239",
    "240",
    "248",
    "251",
    "252",
    "253",
    "254",
    "256",
    "260",
    "262",
    "267",
    "269",
    "270",
    "276",
    "281",
    "301",
    "302",
    "303",
    "304",
    "305",
    "307",
    "308",
    "309",
    "310",
    "312",
    "313",
    "314",
    "315",
    "316",
    "317",
    "318",
    "319",
    "320",
]


def us_numbers(count: int) -> list[str]:
    """``count`` distinct valid US numbers spread across area codes and exchanges."""
    found: list[str] = []
    for line, exchange, area in itertools.product(range(10000), range(200, 1000), AREAS):
        text = f"+1{area}{exchange}{line:04d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(text)):
            found.append(text)
            if len(found) == count:
                return found
    raise ValueError("not enough numbers")
