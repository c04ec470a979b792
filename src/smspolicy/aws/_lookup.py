"""Line types from Pinpoint ``PhoneNumberValidate``, cached in the store."""

from __future__ import annotations

import datetime as dt
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .._clock import Clock, SystemClock
from .._recipients import LineType
from ..errors import LineTypeLookupError
from ..store import LookupCache

__all__ = ["PinpointLineTypeLookup"]

PHONE_TYPE_CODES = {
    0: LineType.MOBILE,
    1: LineType.FIXED_LINE,
    2: LineType.VOIP,
    3: LineType.UNKNOWN,  # INVALID: PhoneNumberValidate could not place it
    4: LineType.UNKNOWN,  # OTHER
    5: LineType.MOBILE,  # PREPAID
}


class PinpointLineTypeLookup:
    """A :class:`smspolicy.LineTypeLookup` backed by Pinpoint ``phone_number_validate``, so
    "mobile only" works for US numbers (which phonenumbers calls fixed-line-or-mobile). Answers
    are cached in ``cache`` (any smspolicy store) for ``ttl``."""

    def __init__(
        self,
        client: Any,
        *,
        cache: LookupCache | None = None,
        ttl: dt.timedelta = dt.timedelta(days=30),
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.cache = cache
        self.ttl = ttl
        self.clock = clock or SystemClock()

    def line_type(self, e164: str) -> LineType | None:
        """The line type Pinpoint reports for ``e164``; raises LineTypeLookupError on failure."""
        key = f"pinpoint:line:{e164}"
        now = self.clock.now()
        if self.cache is not None:
            cached = self.cache.cache_get(key, now=now)
            if cached is not None:
                return LineType(cached)
        try:
            answer = self.client.phone_number_validate(NumberValidateRequest={"PhoneNumber": e164})
        except (ClientError, BotoCoreError) as error:
            raise LineTypeLookupError(f"PhoneNumberValidate failed for {e164}: {error}") from error
        code = answer.get("NumberValidateResponse", {}).get("PhoneTypeCode")
        line = PHONE_TYPE_CODES.get(code, LineType.UNKNOWN) if code is not None else None
        if line is not None and self.cache is not None:
            self.cache.cache_put(key, line.value, expires=now + self.ttl)
        return line
