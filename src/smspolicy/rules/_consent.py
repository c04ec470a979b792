"""The consent rule: no message without the consent its purpose needs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Literal

import attrs

from .. import i18n
from .._constants import REPLY_TOPIC
from .._context import Context
from .._records import Basis, ConsentKind
from .._values import ALLOWED, Channel, Decision, Message, deny, to_enum
from ..consent import (
    ALLOWING,
    DEFAULT_IMPLIED_TERMS,
    ChainBreak,
    ConsentStatus,
    StatusDetail,
    effective_order,
    fold_status,
)
from ..errors import ConfigurationError

_STANDARD = i18n.register_template(
    "consent.standard_not_met",
    "the consent on record ({status}) does not meet this jurisdiction's standard",
)

_MESSAGES = {
    ConsentStatus.MISSING: "there is no consent for topic {topic} ({purpose})",
    ConsentStatus.REVOKED: "the recipient opted out on {at}",
    ConsentStatus.PENDING: "the double opt-in request of {at} has not been confirmed",
    ConsentStatus.EXPIRED: "the implied consent of {at} expired on {expires}",
    ConsentStatus.HELD: (
        "the recipient's reply of {at} may be an opt-out: marketing is held until they answer"
    ),
}

_TAMPERED = i18n.register_template(
    "consent.tampered",
    "the consent records of {number} fail their integrity check at event {seq} ({problem}), "
    "so no decision is taken from them",
)
_ERASED = "the number was erased after opting out"


OPT_OUT_REPLY_WINDOW = dt.timedelta(minutes=5)
"""How long after a STOP its one confirmation may go out (47 CFR 64.1200(a)(12))."""


_ANSWERED = frozenset({ConsentKind.REVOKED, ConsentKind.UNCLEAR})
_NOT_REQUIRED = frozenset({ConsentStatus.MISSING, ConsentStatus.PENDING, ConsentStatus.EXPIRED})
"""The statuses that do not stop a message on a channel where consent is not required."""


def _opt_out_confirmation_due(context: Context) -> tuple[bool, dt.datetime | None]:
    """Whether the latest event in effect is a STOP (or an unclear reply) less than five
    minutes old and no reply went out since (its one confirmation or clarification text is
    due), with the first instant after ``now`` at which that may change on the same records
    (the next event's date, or the end of the five minutes; None: never), as
    :meth:`ConsentView.folded` takes it."""
    now = context.now
    ordered = effective_order(context.consent.events)
    events = [e for e in ordered if e.at <= now]
    upcoming = next((e.at for e in ordered if e.at > now), None)
    if not events or events[-1].kind not in _ANSWERED:
        return False, upcoming
    stopped = events[-1].at
    end = stopped + OPT_OUT_REPLY_WINDOW
    if now >= end:
        return False, upcoming
    if any(s.topic == REPLY_TOPIC and s.at >= stopped for s in context.history.sends):
        return False, upcoming
    return True, end if upcoming is None else min(end, upcoming)


_REPLY_DUE = object()
"""With the context's send history, the key of the fold above in a consent view: it reads no
message, and the history it reads is the context's (the contexts a deferral derives with
``Context.at`` share it; a caller who keeps a view for a later context with another history
gets the fold again)."""


def _bases(value: object) -> frozenset[Basis] | None:
    if value is None:
        return None
    try:
        return frozenset(to_enum(Basis, b, ConfigurationError) for b in value)  # type: ignore[attr-defined]
    except TypeError:
        raise ConfigurationError(
            f"implied_bases must be a collection of Basis, got {value!r}"
        ) from None


_IMPLIED = ConsentStatus.IMPLIED
_FOLDS: dict[tuple[object, ...], object] = {}


def _fold_key(fold: tuple[object, ...]) -> object:
    """One key object per way of folding (a handful per process): rules that fold alike share
    their memo entry, and the key hashes by identity."""
    return _FOLDS.setdefault(fold, object())


def _terms(terms: Mapping[Basis, int | None]) -> tuple[tuple[str, int | None], ...]:
    return tuple(sorted((basis.value, months) for basis, months in terms.items()))


@attrs.frozen(repr=False)
class _Consent:
    stop_scope: Literal["brand", "topic"]
    implied_terms: Mapping[Basis, int | None] = attrs.field(eq=False)
    implied_bases: frozenset[Basis] | None = None
    code: str | None = None
    citation: str | None = None
    name: str = "consent"
    required_for: frozenset[Channel] | None = None
    counted_from: tuple[tuple[Basis, dt.datetime], ...] = ()
    """Implied bases that count only for events recorded at or after an instant (a new basis
    the law does not apply to details obtained before it came into force)."""

    # The memo key for the folded state: computed once, not on every decision, and one
    # object for every rule that folds alike (cheap to hash, shared by them).
    _terms_key: object = attrs.field(
        init=False,
        eq=False,
        repr=False,
        default=attrs.Factory(
            lambda self: _fold_key(
                ("consent", self.stop_scope, _terms(self.implied_terms), self.counted_from)
            ),
            takes_self=True,
        ),
    )
    # This rule's key in the decider's memo (its shared denials).
    _key: object = attrs.field(init=False, factory=object, eq=False, repr=False)

    def status(self, message: Message, context: Context) -> StatusDetail:
        """The folded consent status for the message, with bases this rule does not accept
        treated as missing consent."""
        key = (self._terms_key, message.topic, message.purpose, message.brand, message.channel)
        detail = context.consent.folded(key, context.now, self._fold, message, context)
        return self._accepted(detail)

    def _accepted(self, detail: StatusDetail) -> StatusDetail:
        """``detail``, or missing consent when it rests on an implied basis this rule does not
        accept."""
        if (
            detail.status is _IMPLIED
            and self.implied_bases is not None
            and detail.event is not None
            and (detail.event.basis or Basis.EXPRESS) not in self.implied_bases
        ):
            return StatusDetail(ConsentStatus.MISSING, None, detail.event)
        return detail

    def _fold(self, message: Message, context: Context) -> tuple[StatusDetail, dt.datetime | None]:
        events = context.consent.events
        if self.counted_from:
            since = dict(self.counted_from)
            events = tuple(
                e
                for e in events
                if e.kind is not ConsentKind.IMPLIED
                or e.basis not in since
                or e.at >= since[e.basis]
            )
        return fold_status(
            events,
            topic=message.topic,
            purpose=message.purpose,
            brand=message.brand,
            now=context.now,
            stop_scope=self.stop_scope,
            implied_terms=self.implied_terms,
            channel=message.channel,
        )

    def fold_timed(self) -> bool:
        """True: the instant counts only through the consent view's folds (the status, and
        for a keyword reply whether its confirmation is due)."""
        return True

    def __call__(self, message: Message, context: Context) -> Decision:
        consent = context.consent
        broken = consent.broken
        if broken is not None:
            return self._tampered(broken)
        if message.topic == REPLY_TOPIC and consent.folded(
            (_REPLY_DUE, context.history), context.now, _opt_out_confirmation_due, context
        ):
            return ALLOWED
        if consent.suppressed:
            return deny(
                i18n.reason(
                    self.code or "consent.revoked", self.name, _ERASED, citation=self.citation
                )
            )
        # What status() does, inline (every decision asks each consent rule).
        folded = (self._terms_key, message.topic, message.purpose, message.brand, message.channel)
        detail: StatusDetail = consent.folded(folded, context.now, self._fold, message, context)
        if detail.status is _IMPLIED:
            detail = self._accepted(detail)
        if detail.status in ALLOWING:
            return ALLOWED
        if (
            self.required_for is not None
            and message.channel not in self.required_for
            and detail.status in _NOT_REQUIRED
        ):
            return ALLOWED  # an opt-out channel: only a revocation (or a hold) stops it
        if detail.event is None:
            # Nothing on record: every such recipient gets the same (immutable) DENY.
            key = (detail.status, message.topic, message.purpose)
            return context.shared.get((self._key, *key), self._deny, message, detail)
        return self._deny(message, detail)

    def _deny(self, message: Message, detail: StatusDetail) -> Decision:
        return deny(
            i18n.reason(
                self.code or f"consent.{detail.status.value}",
                self.name,
                _STANDARD if self.code else _MESSAGES[detail.status],
                citation=self.citation,
                status=detail.status.value,
                topic=message.topic,
                purpose=message.purpose.value,
                at=detail.event.at.isoformat() if detail.event else "",
                expires=detail.expires.isoformat() if detail.expires else "",
            )
        )

    def _tampered(self, broken: ChainBreak) -> Decision:
        return deny(
            i18n.reason(
                "consent.tampered",
                self.name,
                _TAMPERED,
                number=broken.number,
                seq=broken.seq,
                problem=broken.problem,
            )
        )

    def __repr__(self) -> str:
        if self.name != "consent":
            return self.name
        return f"consent(stop_scope={self.stop_scope!r})"


def consent(
    *,
    stop_scope: Literal["brand", "topic"] = "brand",
    implied_terms: Mapping[Basis, int | None] = DEFAULT_IMPLIED_TERMS,
    implied_bases: Collection[Basis | str] | None = None,
    code: str | None = None,
    citation: str | None = None,
    name: str = "consent",
    required_for: Collection[Channel | str] | None = None,
) -> _Consent:
    """Require the consent the message's purpose needs for its topic.

    Marketing needs confirmed express consent or live implied consent for the topic;
    transactional messages need at least transactional consent or notice; transactional consent
    never covers marketing; a pending double opt-in never allows; consent for one topic never
    allows another. ``stop_scope="brand"`` makes any STOP end everything from the brand;
    ``"topic"`` lets "STOP ALERTS" end only that topic. ``implied_terms`` sets how many months
    implied consent lasts per basis (CASL defaults); ``implied_bases`` limits which implied
    bases count at all (empty: express consent only). ``code`` and ``citation`` name the reason
    when a jurisdiction's consent requirement is encoded with this rule.

    Consent is scoped by channel too: a grant or revocation naming a channel covers only it
    (SMS and MMS are one), one naming none every channel of its address, and a person's own
    revocation every address of the person. ``required_for`` names the channels on which
    consent must be on record (None: every channel); on the others (an opt-out channel such
    as US commercial email under CAN-SPAM) a message is stopped only by a revocation, an
    unclear reply's hold, an erasure or a broken ledger.
    """
    if stop_scope not in ("brand", "topic"):
        raise ConfigurationError(f"stop_scope must be 'brand' or 'topic', got {stop_scope!r}")
    channels = None
    if required_for is not None:
        if isinstance(required_for, str):
            raise ConfigurationError("required_for must be a collection of channels")
        channels = frozenset(to_enum(Channel, c, ConfigurationError) for c in required_for)
    return _Consent(
        stop_scope,
        dict(implied_terms),
        _bases(implied_bases),
        code,
        citation,
        name,
        channels,
    )
