"""Message length: at most n SMS parts."""

from __future__ import annotations

import attrs

from .. import i18n
from .._context import Context
from .._values import ALLOWED, Decision, Message, deny
from ..errors import ConfigurationError
from ..segments import count

__all__ = ["max_segments"]

_TOO_LONG = i18n.register_template(
    "content.too_long", "the message needs {parts} {encoding} parts; the limit is {limit}"
)


@attrs.frozen(repr=False)
class _MaxSegments:
    limit: int

    def __call__(self, message: Message, context: Context) -> Decision:
        if message.channel.value not in ("sms", "mms"):
            return ALLOWED
        info = count(message.body)
        if info.parts <= self.limit:
            return ALLOWED
        return deny(
            i18n.reason(
                "content.too_long",
                "max_segments",
                _TOO_LONG,
                parts=info.parts,
                encoding=info.encoding,
                limit=self.limit,
            )
        )

    def __repr__(self) -> str:
        return f"max_segments({self.limit})"


def max_segments(n: int) -> _MaxSegments:
    """Deny SMS bodies that need more than ``n`` parts (GSM-7 or UCS-2, see
    :mod:`smspolicy.segments`)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ConfigurationError(f"n must be a positive int, got {n!r}")
    return _MaxSegments(n)
