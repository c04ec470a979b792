"""Email rules: the postal address CAN-SPAM asks of commercial email, and the express prior
authorisation the FCC asks before commercial email goes to a wireless domain."""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs

from .. import i18n
from .._context import Context
from .._recipients import normalise_domain
from .._values import ALLOWED, Channel, Decision, Message, deny
from ..errors import ConfigurationError, InvalidAddressError
from ..typing import Rule
from ._consent import consent
from ._content import without_comments

__all__ = [
    "WIRELESS_DOMAINS",
    "has_postal_address",
    "postal_address",
    "wireless_domain",
    "wireless_domain_consent",
]

WIRELESS_DOMAINS = frozenset(
    {
        "email.uscc.net",
        "messaging.sprintpcs.com",
        "mms.att.net",
        "mymetropcs.com",
        "myboostmobile.com",
        "pm.sprint.com",
        "sms.cricketwireless.net",
        "tmomail.net",
        "txt.att.net",
        "vmobl.com",
        "vtext.com",
        "vzwpix.com",
    }
)
"""A few carriers' email-to-text gateway domains, as examples of the domains on the FCC's
wireless domain names list (47 CFR 64.3100(a)(4)); not the list itself. The FCC publishes the
whole list (a file carriers keep current): load it and pass it as ``domains`` (or as
``standard(wireless_domains=...)``) to cover every one. A subdomain of a listed domain counts
as listed."""

_STREET = re.compile(
    r"\b\d{1,6}[a-z]?(?:[ \t]+[\w.'-]+){1,6}?[ \t]+(?:street|st|avenue|ave|road|rd|boulevard|"
    r"blvd|drive|dr|lane|ln|way|court|ct|place|pl|parkway|pkwy|highway|hwy|square|sq|terrace|"
    r"ter|circle|cir|plaza|broadway|trail|trl|suite|ste)\b",
    re.IGNORECASE,
)
_BOX = re.compile(
    r"\b(?:p\.?[ \t]*o\.?[ \t]*box|post[ \t]+office[ \t]+box|pmb|private[ \t]+mailbox)"
    r"[ \t#]*\d+",
    re.IGNORECASE,
)
_POSTAL_CODE = re.compile(
    r"\b[A-Z]{2}[ \t,]+\d{5}(?:-\d{4})?\b"  # a US state and ZIP code: "IL 62701"
    r"|\b[A-Z]\d[A-Z][ \t]?\d[A-Z]\d\b"  # a Canadian postal code: "K1A 0B1"
    r"|\b[A-Z]{1,2}\d[A-Z\d]?[ \t]+\d[A-Z]{2}\b"  # a UK postcode: "SW1A 1AA"
)

_NO_ADDRESS = i18n.register_template(
    "content.postal_address_missing",
    "the message does not give the sender's physical postal address (a street address, a "
    "registered post office box or private mailbox, with its postal code)",
)
_WIRELESS = i18n.register_template(
    "consent.wireless_domain",
    "{domain} is a wireless domain: commercial email to it needs the recipient's express "
    "prior authorisation on record",
)


_OPT_OUT_HEADER = re.compile(r"list-unsubscribe(?:-post)?[ \t]*:", re.IGNORECASE)


def _shown(body: str) -> str:
    """The part of ``body`` a reader sees: without HTML comments, and without the opt-out
    header lines (``List-Unsubscribe``, ``List-Unsubscribe-Post`` and their folded
    continuations) of the header block, the lines before the first empty one."""
    body = without_comments(body.replace("\r\n", "\n"))
    head, blank, rest = body.partition("\n\n")
    kept: list[str] = []
    dropping = False
    for line in head.split("\n"):
        if _OPT_OUT_HEADER.match(line.strip()):
            dropping = True
        elif not (dropping and line[:1] in (" ", "\t")):
            dropping = False
            kept.append(line)
    return "\n".join(kept) + blank + rest


def has_postal_address(body: str) -> bool:
    """True when the body gives a physical postal address: a street address ("1600 Main
    Street") or a post office box or private mailbox ("PO Box 12", "PMB 340"), with a postal
    code (a US state and ZIP code, a Canadian postal code or a UK postcode). Only what a
    reader sees counts: an address in an HTML comment or in a ``List-Unsubscribe`` header is
    none."""
    shown = _shown(body)
    return bool((_STREET.search(shown) or _BOX.search(shown)) and _POSTAL_CODE.search(shown))


@attrs.frozen(repr=False)
class _PostalAddress:
    code: str | None
    citation: str | None
    name: str

    def __call__(self, message: Message, context: Context) -> Decision:
        if has_postal_address(message.body):
            return ALLOWED
        return deny(
            i18n.reason(
                self.code or "content.postal_address_missing",
                self.name,
                _NO_ADDRESS,
                citation=self.citation,
            )
        )

    def __repr__(self) -> str:
        return self.name if self.name != "postal_address" else "postal_address()"


def postal_address(
    *, code: str | None = None, citation: str | None = None, name: str = "postal_address"
) -> _PostalAddress:
    """Require the body to give the sender's valid physical postal address
    (:func:`has_postal_address`), as CAN-SPAM asks of every commercial email (15 U.S.C.
    7704(a)(5)(A)(iii)). Put the program's ``postal_address`` in the email's footer."""
    return _PostalAddress(code, citation, name)


def _domains(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        raise ConfigurationError("domains must be a collection of domain names, not one string")
    found: set[str] = set()
    for item in value:
        if not isinstance(item, str) or not item.strip() or "@" in item:
            raise ConfigurationError(f"domains must be domain names, got {item!r}")
        try:
            found.add(normalise_domain(item))
        except InvalidAddressError as error:
            raise ConfigurationError(
                f"domains must be host names (a subdomain of a listed domain counts as "
                f"listed, so no wildcard is needed): {error}"
            ) from None
    return frozenset(found)


def wireless_domain(address: str, domains: frozenset[str]) -> str | None:
    """The listed domain an email address is on (itself or a subdomain of it), or None."""
    domain = address.rpartition("@")[2].casefold()
    while domain:
        if domain in domains:
            return domain
        domain = domain.partition(".")[2]
    return None


@attrs.frozen(repr=False)
class _WirelessDomainConsent:
    domains: frozenset[str]
    code: str | None
    citation: str | None
    name: str
    _express: Rule = attrs.field(
        init=False,
        eq=False,
        default=attrs.Factory(
            lambda self: consent(implied_bases=(), name=self.name), takes_self=True
        ),
    )

    def __call__(self, message: Message, context: Context) -> Decision:
        if message.channel is not Channel.EMAIL:
            return ALLOWED
        domain = wireless_domain(context.recipient.address, self.domains)
        if domain is None:
            return ALLOWED
        decision = self._express(message, context)
        if decision.allowed:
            return decision
        return deny(
            i18n.reason(
                self.code or "consent.wireless_domain",
                self.name,
                _WIRELESS,
                citation=self.citation,
                domain=domain,
                consent=",".join(decision.codes),
            )
        )

    def __repr__(self) -> str:
        if self.name != "wireless_domain_consent":
            return self.name
        return f"wireless_domain_consent({len(self.domains)} domains)"


def wireless_domain_consent(
    domains: Iterable[str] = WIRELESS_DOMAINS,
    *,
    code: str | None = None,
    citation: str | None = None,
    name: str = "wireless_domain_consent",
) -> _WirelessDomainConsent:
    """Require express consent on record (no implied basis) before an email goes to an
    address on one of ``domains`` or a subdomain of one: the FCC's rule on commercial mobile
    service messages (47 CFR 64.3100(a)), which reaches email sent to the wireless domains on
    its list. ``domains`` defaults to :data:`WIRELESS_DOMAINS`, a few examples: pass the FCC's
    whole list to cover every wireless domain. Other channels and domains are allowed."""
    return _WirelessDomainConsent(_domains(domains), code, citation, name)
