"""The reason catalogue: every reason code smspolicy can give, what it means, which rule gives
it and the law it cites.

``python -m smspolicy.reasons`` prints ``docs/reasons.md``; ``smspolicy reasons`` prints the
catalogue as a table, CSV or JSON. Codes of jurisdiction provisions (``jurisdiction.<id>``) are
read from the provisions themselves, so a provision added to a pack is catalogued with it.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

__all__ = ["ReasonCode", "catalogue", "describe", "markdown"]


@attrs.frozen
class ReasonCode:
    """One reason code: the ``rule`` that gives it (the factory or component, as named in
    the API), its ``meaning`` in one sentence and the ``citation`` it carries (None when none
    applies or the policy author supplies one)."""

    code: str
    rule: str
    meaning: str
    citation: str | None = None


_AS_CONFIGURED = "the citation given to the rule (the standard policy: CTIA Messaging Principles)"

_GUARD = "smspolicy.aws guards"

_LIBRARY = (
    ReasonCode(
        "address.duplicate",
        _GUARD,
        "The request names the same address twice, written two ways (case of an email "
        "domain, a number's formatting): the first spelling is sent once, the others refused.",
    ),
    ReasonCode("address.invalid", "Engine", "The message has an empty destination address."),
    ReasonCode(
        "address.malformed",
        "Engine",
        "The destination of an email, push or in-app message is not a valid address on its "
        "channel (an email address without a dotted domain, a push token with spaces inside).",
    ),
    ReasonCode(
        "cap.exceeded",
        "rules.frequency_cap",
        "The recipient (or topic, brand, person) already got the cap's number of messages in "
        "its window; deferred until the oldest one leaves it, or denied when that is too late.",
    ),
    ReasonCode(
        "cap.program",
        "rules.program_frequency",
        'A program\'s declared frequency ("up to 4 msgs/week") is used up for this recipient.',
    ),
    ReasonCode(
        "channel.unsupported",
        _GUARD,
        "The request's ChannelType is one the policy cannot decide, so that address is not sent.",
    ),
    ReasonCode(
        "consent.expired",
        "rules.consent",
        "The implied consent on record (e.g. from a purchase) has passed its expiry.",
    ),
    ReasonCode(
        "consent.held",
        "rules.consent",
        "The recipient's last reply may be an opt-out: marketing is held until they answer.",
    ),
    ReasonCode(
        "content.unknown",
        _GUARD,
        "The text an address would receive cannot be known (a template the guard cannot read, "
        "a stored template it could not fetch), so it is not sent unchecked.",
    ),
    ReasonCode(
        "consent.wireless_domain",
        "rules.wireless_domain_consent",
        "A commercial email goes to a wireless domain (an address of a carrier's "
        "email-to-text gateway) without the recipient's express prior authorisation on record.",
        "47 CFR 64.3100(a)",
    ),
    ReasonCode(
        "consent.missing",
        "rules.consent",
        "There is no consent on record for this topic, purpose and brand.",
    ),
    ReasonCode(
        "consent.pending",
        "rules.consent",
        "A double opt-in request has not been confirmed yet.",
    ),
    ReasonCode(
        "consent.reassigned",
        "rules.reassigned_numbers",
        "The Reassigned Numbers Database reports the number permanently disconnected since the "
        "consent was given: it may belong to someone else now.",
        "47 CFR 64.1200(m)",
    ),
    ReasonCode(
        "consent.reassigned_no_data",
        "rules.reassigned_numbers",
        "The Reassigned Numbers Database has no data for the number since the consent: no safe "
        "harbor (attached, or a DENY with on_no_data='deny').",
        "47 CFR 64.1200(m)",
    ),
    ReasonCode(
        "consent.reassigned_unavailable",
        "rules.reassigned_numbers",
        "The Reassigned Numbers Database could not be asked: DENY for marketing (fail closed), "
        "attached otherwise.",
        "47 CFR 64.1200(m)",
    ),
    ReasonCode(
        "consent.revoked",
        "rules.consent",
        "The recipient opted out (STOP, or their records were erased).",
    ),
    ReasonCode(
        "consent.tampered",
        "rules.consent",
        "The recipient's consent records fail their hash-chain integrity check, so no decision "
        "is taken from them.",
    ),
    ReasonCode(
        "consent.written_evidence_missing",
        "rules.written_consent_evidence",
        "The express marketing consent on record carries no written-consent evidence (signature "
        "record, disclosure shown, number).",
        "47 CFR 64.1200(a)(2), (f)(9)",
    ),
    ReasonCode(
        "content.postal_address_missing",
        "rules.postal_address",
        "A commercial email does not give the sender's physical postal address (street "
        "address, registered post office box or private mailbox, with its postal code).",
        "15 U.S.C. 7704(a)(5)(A)(iii)",
    ),
    ReasonCode(
        "content.identification_missing",
        "rules.required_content",
        "The message body does not name its sender (the brand).",
    ),
    ReasonCode(
        "content.opt_out_missing",
        "rules.required_content",
        "The message body does not say how to opt out (e.g. 'Reply STOP to opt out').",
    ),
    ReasonCode(
        "content.too_long",
        "rules.max_segments",
        "The message needs more SMS parts than the limit.",
    ),
    ReasonCode(
        "dedupe.duplicate",
        "rules.dedupe",
        "The same content was already sent to the recipient within the dedupe window.",
    ),
    ReasonCode(
        "engagement.reduced",
        "rules.engagement",
        "The recipient has not engaged for a while: the reduced frequency tier applies and is "
        "used up.",
    ),
    ReasonCode(
        "engagement.unengaged",
        "rules.engagement",
        "The recipient has not engaged for longer than the removal threshold.",
    ),
    ReasonCode(
        "history.too_short",
        "rules.frequency_cap",
        "The send history the engine loaded is shorter than the cap's window, so the cap "
        "cannot be counted (raise Engine(history=...)).",
    ),
    ReasonCode(
        "hours.no_window",
        "rules.sending_window",
        "The sending window never opens in every candidate zone of the recipient within the "
        "look-ahead.",
        _AS_CONFIGURED,
    ),
    ReasonCode(
        "hours.outside_window",
        "rules.sending_window",
        "It is outside the sending window in the recipient's time; deferred until it opens.",
        _AS_CONFIGURED,
    ),
    ReasonCode(
        "hours.zone_unknown",
        "rules.sending_window",
        "The recipient's time zone is unknown, so the window cannot be checked "
        "(on_unknown='deny').",
        _AS_CONFIGURED,
    ),
    ReasonCode(
        "jurisdiction.stand_in",
        "jurisdictions.standard",
        "The recipient's territory has rules of its own that are not encoded yet; another "
        "jurisdiction's rules were applied in their place (given with that rule's reason).",
    ),
    ReasonCode(
        "laws.deny",
        "testing.deny_all",
        "The testing kit's rule that denies everything (used to check that a law applies).",
    ),
    ReasonCode(
        "lookup.unavailable",
        "Engine",
        "The line-type lookup failed, so the message is held back (fail closed).",
    ),
    ReasonCode(
        "message.stale",
        "Policy",
        "The earliest allowed time is after the message's not_after.",
    ),
    ReasonCode(
        "number.country",
        "rules.valid_number",
        "The number's country is not one the policy sends to.",
    ),
    ReasonCode(
        "number.invalid",
        "Engine",
        "The destination is not a valid phone number.",
    ),
    ReasonCode(
        "number.line_type",
        "rules.valid_number",
        "The number's line type (landline, VoIP, ...) is not one the policy sends to.",
    ),
    ReasonCode(
        "dnc.listed",
        "rules.do_not_call",
        "The number is on the do-not-call registry and no exemption (established business "
        "relationship, written consent) holds.",
        "47 CFR 64.1200(c)(2)",
    ),
    ReasonCode(
        "dnc.stale",
        "rules.do_not_call",
        "The registry's copy is older than the law allows (31 days for the US national "
        "registry): every marketing message is denied until a fresh copy is imported.",
        "47 CFR 64.1200(c)(2)",
    ),
    ReasonCode(
        "dnc.unavailable",
        "rules.do_not_call",
        "The do-not-call registry could not be read, so marketing is denied (fail closed).",
        "47 CFR 64.1200(c)(2)",
    ),
    ReasonCode(
        "origination.mismatch",
        "rules.origination",
        "The sender is not registered for this brand and purpose.",
    ),
    ReasonCode(
        "origination.missing",
        "rules.origination",
        "The message names no origination identity (sender) to check.",
    ),
    ReasonCode(
        "origination.unlisted",
        "rules.origination",
        "No sender is registered for this brand and purpose.",
    ),
    ReasonCode(
        "registration.missing",
        "rules.seller_registration",
        "A warning on an allowed marketing message: no program of the brand declares a "
        "registration number or exemption for the recipient's jurisdiction.",
    ),
    ReasonCode(
        "row.invalid",
        "smspolicy preflight",
        "A row of the recipients file cannot be made into a message (the line is named).",
    ),
    ReasonCode(
        "store.unavailable",
        "Engine",
        "The store could not be read, so the message is held back (fail closed; "
        "Engine(on_store_error=...) picks deny or defer).",
    ),
    ReasonCode(
        "window.none",
        "Policy",
        "No instant within the policy's horizon satisfies every rule at once.",
    ),
)


def _provisions() -> Iterable[ReasonCode]:
    from .jurisdictions import PACKS  # the packs import the rules, which import this module's users

    seen: set[str] = set()
    for provisions in PACKS.values():
        for p in provisions:
            if p.code in seen:
                continue
            seen.add(p.code)
            where = ", ".join(sorted(p.jurisdictions))
            if len(p.jurisdictions) > 6:
                where = f"{len(p.jurisdictions)} EU member states"
            state = (
                ""
                if p.confirmed
                else " Unconfirmed; shipped on, the stricter choice."
                if p.on_by_default
                else " Unconfirmed: off unless enabled."
            )
            yield ReasonCode(
                p.code,
                p.id,
                f"{p.title} ({where}).{state}",
                p.citation,
            )


def catalogue() -> tuple[ReasonCode, ...]:
    """Every reason code smspolicy can give, sorted by code."""
    return tuple(sorted((*_LIBRARY, *_provisions()), key=lambda r: r.code))


def describe(code: str) -> ReasonCode | None:
    """The catalogue entry of ``code``, or None for a code smspolicy does not give (a custom
    rule's own code)."""
    return next((r for r in catalogue() if r.code == code), None)


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown() -> str:
    """The catalogue as the docs page ``docs/reasons.md``."""
    lines = [
        "# Reason codes",
        "",
        "Generated by `python -m smspolicy.reasons > docs/reasons.md`; do not edit by hand.",
        "The same catalogue is printed by `smspolicy reasons` (add `--format json` for scripts)",
        "and returned by `smspolicy.reasons.catalogue()`. Custom rules give codes of their own,",
        "which are not listed here.",
        "",
        "| code | rule | meaning | citation |",
        "|---|---|---|---|",
    ]
    for r in catalogue():
        lines.append(
            f"| `{r.code}` | `{r.rule}` | {_cell(r.meaning)} | {_cell(r.citation or '-')} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - exercised by tests through runpy
    print(markdown(), end="")
