"""Content rules: sender identification and opt-out instructions in the message itself."""

from __future__ import annotations

import re

import attrs

from .. import i18n
from .._context import Context
from .._memo import lru
from .._values import Channel, Decision, Message, Reason, allow, deny
from ..keywords import normalise

__all__ = ["has_contact", "has_opt_out", "required_content"]

# Opt-out words, and the verbs that make them an instruction, per language (normalised text:
# lower case, no accents, punctuation as spaces). A bare "end" or "cancel" is not an
# instruction ("ends at the end of the month", "cancel anytime"); "reply STOP", "text END to
# 12345", "STOP to opt out", "répondez STOP", "responde BAJA" are.
_WORDS = (
    r"(?:stop|stopall|stopp|end|quit|cancel|unsubscribe|revoke|opt ?out|remove|arret|baja|"
    r"alto|sair|parar|basta|disiscrivi|afmelden|abmelden|td|no|n)"
)
_VERBS = (
    r"(?:reply|respond|text|txt|send|sms|message|"  # en
    r"responde|responda|responder|contesta|envia|envie|enviar|manda|mande|"  # es, pt
    r"repondez|reponds|repondre|envoyez|envoie|envoyer|tapez|"  # fr
    r"antworte|antworten|sende|senden|schreibe|"  # de
    r"rispondi|invia|scrivi|"  # it
    r"antwoord|stuur)"  # nl
)
_ENDS = r"(?:end|stop|quit|cancel|unsubscribe|opt ?out|optout|be removed|arreter|desinscrire)"
_INSTRUCTION = re.compile(
    rf"\b{_VERBS}(?: (?:with|the word|con|la palabra|avec|le mot|mit|con la parola|met))? "
    rf"{_WORDS}\b"
    rf"|\b{_WORDS} (?:to|para|pour|um|per|om) {_ENDS}\b"
    r"|\bstop (?:au|sms) \d"  # the French mention "STOP au 36111"
    r"|\bto (?:unsubscribe|opt out)\b"  # "to unsubscribe, visit ..."
    r"|\bunsubscribe (?:at|here|link|via|by)\b"
    r"|\bpara (?:darte|darse|cancelar) de baja\b|\bpour vous desabonner\b|\bdesabonnement\b"
)
_LINK = re.compile(r"https?://\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}/\S*", re.IGNORECASE)
_OPT_OUT_LINK = ("unsub", "optout", "opt-out", "opt_out", "stop", "desabon", "abmelden", "baja")
_OPT_OUT_TEXT = ("配信停止", "停止", "退订", "수신거부")
_LIST_UNSUBSCRIBE = re.compile(
    r"list-unsubscribe:[ \t]*<[ \t]*(?:mailto:[^<>@\s]+@[^<>@\s]+\.[^<>@\s]+|https?://[^<>\s]+\.[^<>\s]+)"
    r"[ \t]*>",
    re.IGNORECASE,
)
"""An RFC 2369 ``List-Unsubscribe`` header whose first URI is a mail address or a web link."""

_NO_OPT_OUT = i18n.register_template(
    "content.opt_out_missing",
    "the message does not tell the recipient how to opt out (e.g. 'Reply STOP to opt out')",
)
_NO_CONTACT = i18n.register_template(
    "content.contact_missing",
    "the message gives no way to reach the sender (a link to the sender's details, an email "
    "address or a telephone number)",
)
_NO_ID = i18n.register_template(
    "content.identification_missing",
    "the message does not identify its sender ({brand})",
)


def has_opt_out(body: str, channel: Channel | None = None) -> bool:
    """True when the body tells the recipient how to opt out: an instruction ("Reply STOP",
    "Text END to 12345", "STOP to opt out", "Répondez STOP", "Responde BAJA", "Antworte
    STOPP"), an unsubscribe link, or the Japanese, Chinese or Korean opt-out phrases. A bare
    keyword in another sense ("ends at the end of the month", "cancel anytime") is not one.

    For an email (``channel`` :attr:`Channel.EMAIL`), a ``List-Unsubscribe`` header with a
    ``mailto:`` or web URI in the header block (the lines before the first empty line, as the
    SES and Pinpoint guards render an email) is one too, whatever the address looks like: the
    mail client offers it as the unsubscribe button. Nothing inside an HTML comment counts."""
    return _opt_out(body, channel)


@lru(4096)  # a campaign sends one body to many recipients: each is read once
def _opt_out(body: str, channel: Channel | None) -> bool:
    if channel is Channel.EMAIL:
        body = without_comments(body)  # an HTML comment is never shown
        if _has_list_unsubscribe(body):
            return True
    if _INSTRUCTION.search(normalise(body)):
        return True
    if any(t in body for t in _OPT_OUT_TEXT):
        return True
    return any(
        any(word in link.casefold() for word in _OPT_OUT_LINK) for link in _LINK.findall(body)
    )


_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)


def without_comments(text: str) -> str:
    """``text`` without its HTML comments (an unclosed one runs to the end)."""
    return _COMMENT.sub(" ", text) if "<!--" in text else text


def _has_list_unsubscribe(body: str) -> bool:
    headers = body.replace("\r\n", "\n").split("\n\n", 1)[0]
    return any(_LIST_UNSUBSCRIBE.match(line.strip()) for line in headers.split("\n"))


_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(r"(?:\+|\b)\d(?:[\d ().-]{5,}\d)\b")


@lru(4096)
def has_contact(body: str) -> bool:
    """True when the body gives a way to reach the sender: a link (to a page with the sender's
    details, as CRTC 2012-548 allows), an email address or a telephone number."""
    return bool(_LINK.search(body) or _EMAIL.search(body) or _PHONE.search(body))


@lru(4096)
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
    contact: bool = False

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
        if self.contact and not has_contact(message.body):
            reasons.append(
                i18n.reason(
                    self.code or "content.contact_missing",
                    self.name,
                    _NO_CONTACT,
                    citation=self.citation,
                )
            )
        if self.opt_out and not has_opt_out(message.body, message.channel):
            reasons.append(
                i18n.reason(
                    self.code or "content.opt_out_missing",
                    self.name,
                    _NO_OPT_OUT,
                    citation=self.citation,
                )
            )
        return deny(*reasons) if reasons else allow()

    def allows_onward(self) -> bool:
        """True: the decision depends on the message alone."""
        return True

    def __repr__(self) -> str:
        if self.name != "required_content":
            return self.name
        contact = ", contact=True" if self.contact else ""
        return (
            f"required_content(identification={self.identification}, opt_out={self.opt_out}"
            f"{contact})"
        )


def required_content(
    *,
    identification: bool = True,
    opt_out: bool = True,
    code: str | None = None,
    citation: str | None = None,
    name: str = "required_content",
    contact: bool = False,
) -> _RequiredContent:
    """Require the body to identify the sender (name ``Message.brand``) and to say how to opt out,
    as CASL s.6(2), PECR reg. 23, ePrivacy art. 13(4), Japan's Act art. 4 and the Spam Act
    s.17-18 demand of commercial messages. A message with no brand cannot be shown to identify
    its sender and is denied. Opt-out means an instruction (:func:`has_opt_out`), not a bare
    word. ``contact=True`` also requires a way to reach the sender (:func:`has_contact`): CASL's
    mailing address and contact method, or Japan's postal address, through a link to them."""
    return _RequiredContent(
        bool(identification), bool(opt_out), code, citation, name, bool(contact)
    )
