"""United States email: CAN-SPAM (15 U.S.C. 7701-7713, 16 CFR 316) and the FCC's rule on
commercial email to wireless domains (47 CFR 64.3100)."""

from __future__ import annotations

from .. import rules
from ._model import AUDIT, EMAIL, Provision, provision

__all__ = ["CAN_SPAM", "WIRELESS_DOMAINS_ID"]

_CAN_SPAM = "15 U.S.C. 7704"
_SOURCE = "https://www.law.cornell.edu/uscode/text/15/7704"
_MSCM = "47 CFR 64.3100"
_MSCM_SOURCE = "https://www.ecfr.gov/current/title-47/chapter-I/subchapter-B/part-64/subpart-S"
WIRELESS_DOMAINS_ID = "us.fcc.wireless_domains"
"""The provision whose domain list ``standard(wireless_domains=...)`` replaces."""

CAN_SPAM: tuple[Provision, ...] = (
    provision(
        "us.canspam.postal_address",
        "US",
        "Commercial email gives the sender's valid physical postal address",
        f"{_CAN_SPAM}(a)(5)(A)(iii); 16 CFR 316",
        rules.postal_address(
            code="jurisdiction.us.canspam.postal_address",
            citation=f"{_CAN_SPAM}(a)(5)(A)(iii)",
            name="us.canspam.postal_address",
        ),
        parameters={"postal address": "street address, USPS box or registered private mailbox"},
        channels=EMAIL,
        source=_SOURCE,
        as_of=AUDIT,
        note="CAN-SPAM needs no prior consent for commercial email; the address goes in the "
        "body (the program's postal_address in the footer).",
    ),
    provision(
        "us.canspam.opt_out",
        "US",
        "Commercial email offers a working opt-out (an unsubscribe link or reply address), "
        "valid at least 30 days after sending and honoured within 10 business days",
        f"{_CAN_SPAM}(a)(3), (a)(4), (a)(5)(A)(ii)",
        rules.required_content(
            identification=False,
            opt_out=True,
            code="jurisdiction.us.canspam.opt_out",
            citation=f"{_CAN_SPAM}(a)(3)",
            name="us.canspam.opt_out",
        ),
        parameters={
            "opt-out valid": "30 days after sending",
            "honoured within": "10 business days",
        },
        channels=EMAIL,
        source=_SOURCE,
        as_of=AUDIT,
        note="The ledger applies an unsubscribe at once (stricter than 10 business days); the "
        "sender keeps the link working for 30 days. Deceptive headers and subject lines "
        "(7704(a)(1)-(2)) cannot be judged from the message and are not checked.",
    ),
    provision(
        WIRELESS_DOMAINS_ID,
        "US",
        "Commercial email to a wireless domain on the FCC's list needs express prior authorisation",
        f"{_MSCM}(a)",
        rules.wireless_domain_consent(
            code=f"jurisdiction.{WIRELESS_DOMAINS_ID}",
            citation=f"{_MSCM}(a)",
            name=WIRELESS_DOMAINS_ID,
        ),
        parameters={"domains": "examples shipped; pass the FCC list as wireless_domains"},
        channels=EMAIL,
        source=_MSCM_SOURCE,
        as_of=AUDIT,
        note="The shipped domains are a few carriers' gateways "
        "(jurisdictions.WIRELESS_DOMAINS), not the FCC's list: "
        "standard(wireless_domains=...) takes the whole list.",
    ),
)
