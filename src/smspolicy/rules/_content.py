"""Content rules: sender identification and opt-out instructions in the message itself."""

from __future__ import annotations

import re

import attrs

from .. import i18n
from .._context import Context
from .._values import Decision, Message, Reason, allow, deny
from ..keywords import normalise

__all__ = ["has_opt_out", "required_content"]

_OPT_OUT_WORDS = re.compile(
    r"\b(?:stop|stopall|unsubscribe|opt ?out|arret|desabonner|sair|baja|cancel|quit|end)\b"
)
_OPT_OUT_TEXT = ("配信停止", "停止", "unsub", "optout", "opt-out")

_NO_OPT_OUT = i18n.register_template(
    "content.opt_out_missing",
    "the message does not tell the recipient how to opt out (e.g. 'Reply STOP to opt out')",
)
_NO_ID = i18n.register_template(
    "content.identification_missing",
    "the message does not identify its sender ({brand})",
)


def has_opt_out(body: str) -> bool:
    """True when the body tells the recipient how to opt out: an opt-out keyword (STOP, ARRET,
    SAIR, unsubscribe...) or an unsubscribe link or phrase."""
    plain = normalise(body)
    return bool(_OPT_OUT_WORDS.search(plain)) or any(t in body.casefold() for t in _OPT_OUT_TEXT)


def identifies(body: str, brand: str | None) -> bool:
    """True when the body names the brand (case, accents and punctuation ignored)."""
    return brand is not None and normalise(brand) in normalise(body)


@attrs.frozen(repr=False)
class _RequiredContent:
    identification: bool
    opt_out: bool
    code: str | None
    citation: str | None
    name: str

    def __call__(self, message: Message, context: Context) -> Decision:
        reasons: list[Reason] = []
        if self.identification and not identifies(message.body, message.brand):
            reasons.append(
                i18n.reason(
                    self.code or "content.identification_missing",
                    self.name,
                    _NO_ID,
                    citation=self.citation,
                    brand=message.brand or "no brand given",
                )
            )
        if self.opt_out and not has_opt_out(message.body):
            reasons.append(
                i18n.reason(
                    self.code or "content.opt_out_missing",
                    self.name,
                    _NO_OPT_OUT,
                    citation=self.citation,
                )
            )
        return deny(*reasons) if reasons else allow()

    def __repr__(self) -> str:
        if self.name != "required_content":
            return self.name
        return f"required_content(identification={self.identification}, opt_out={self.opt_out})"


def required_content(
    *,
    identification: bool = True,
    opt_out: bool = True,
    code: str | None = None,
    citation: str | None = None,
    name: str = "required_content",
) -> _RequiredContent:
    """Require the body to identify the sender (name ``Message.brand``) and to say how to opt out,
    as CASL s.6(2), PECR reg. 23, ePrivacy art. 13(4), Japan's Act art. 4 and the Spam Act
    s.17-18 demand of commercial messages. A message with no brand cannot be shown to identify
    its sender and is denied."""
    return _RequiredContent(bool(identification), bool(opt_out), code, citation, name)
