"""The text a Pinpoint request sends to one address: raw content, body overrides, message
templates and substitutions, rendered before the policy decides on it."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from .._clock import Clock, SystemClock
from .._values import Channel
from ._email import email_text, header_pairs, mime_text

__all__ = ["PinpointTemplates", "SmsTemplate", "TemplateSource", "UnknownContent", "body_for"]

VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
"""A Pinpoint message variable: ``{{Name}}``."""


class UnknownContent(Exception):
    """The text that would be sent cannot be known; the reason says why. ``transient`` when a
    later try may know it (the template source failed)."""

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.transient = transient


@attrs.frozen
class SmsTemplate:
    """A message template's text and its default variable values."""

    body: str
    defaults: Mapping[str, str] = attrs.field(factory=dict)


TemplateSource = Callable[[str, "str | None"], SmsTemplate]
"""Look up a template by name and version (None: the active version); raise on failure."""


class PinpointTemplates:
    """A :data:`TemplateSource` backed by Pinpoint ``GetSmsTemplate``, with answers cached for
    ``ttl`` per name and version."""

    def __init__(
        self,
        client: Any,
        *,
        ttl: dt.timedelta = dt.timedelta(minutes=5),
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.ttl = ttl
        self.clock = clock or SystemClock()
        self._cache: dict[tuple[str, str | None], tuple[dt.datetime, SmsTemplate]] = {}
        self._lock = threading.Lock()

    def __call__(self, name: str, version: str | None) -> SmsTemplate:
        """The template ``name`` at ``version``; raises on an AWS error."""
        now = self.clock.now()
        with self._lock:
            cached = self._cache.get((name, version))
        if cached is not None and now < cached[0]:
            return cached[1]
        params = {"TemplateName": name, **({"Version": version} if version else {})}
        answer = self.client.get_sms_template(**params)["SMSTemplateResponse"]
        defaults = json.loads(answer.get("DefaultSubstitutions") or "{}")
        template = SmsTemplate(
            str(answer.get("Body", "")), {str(k): str(v) for k, v in defaults.items()}
        )
        with self._lock:
            self._cache[(name, version)] = (now + self.ttl, template)
        return template


def _raw_body(raw: str) -> str:
    try:
        payload = json.loads(raw)
    except ValueError:
        return raw  # plain text goes out as it is
    if isinstance(payload, str):
        return payload
    if isinstance(payload, Mapping):
        bodies = [payload[k] for k in ("Body", "body") if isinstance(payload.get(k), str)]
        if len(bodies) == 1:
            return str(bodies[0])
    raise UnknownContent("RawContent has no single text body")


def _render(text: str, layers: Sequence[Mapping[str, Any]]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        for layer in layers:
            if name in layer:
                found = layer[name]
                values = [found] if isinstance(found, str) else list(found)
                if len(values) > 1:
                    raise UnknownContent(f"variable {name!r} has {len(values)} values")
                return str(values[0]) if values else ""
        raise UnknownContent(f"variable {name!r} has no value")

    return VARIABLE.sub(value, text)


PUSH_SECTIONS = {
    "GCM": "GCMMessage",
    "APNS": "APNSMessage",
    "APNS_SANDBOX": "APNSMessage",
    "APNS_VOIP": "APNSMessage",
    "APNS_VOIP_SANDBOX": "APNSMessage",
    "BAIDU": "BaiduMessage",
    "ADM": "ADMMessage",
}
"""The platform message section of each push ``ChannelType`` (``PUSH`` itself has none: it
uses ``DefaultPushNotificationMessage``)."""


def _pick(payload: Mapping[str, Any], *names: str) -> str | None:
    found = [payload[n] for n in names if isinstance(payload.get(n), str) and payload[n]]
    return str(found[0]) if found else None


def _raw_push(raw: str) -> str:
    """The title and body a raw push payload shows (APNs ``aps.alert``, FCM ``notification``
    or Pinpoint's ``data`` keys, Baidu's ``title``/``description``, or a ``Body``)."""
    try:
        payload = json.loads(raw)
    except ValueError:
        return raw
    if not isinstance(payload, Mapping):
        return _raw_body(raw)
    shown: list[str | None] = []
    aps = payload.get("aps")
    alert = aps.get("alert") if isinstance(aps, Mapping) else None
    if isinstance(alert, str):
        shown.append(alert)
    elif isinstance(alert, Mapping):
        shown += [_pick(alert, "title"), _pick(alert, "body")]
    for key in ("notification", "data"):
        part = payload.get(key)
        if isinstance(part, Mapping):
            shown += [
                _pick(part, "title", "pinpoint.notification.title"),
                _pick(part, "body", "pinpoint.notification.body"),
            ]
    shown += [_pick(payload, "title", "Title"), _pick(payload, "description", "Body", "body")]
    text = [s for s in shown if s]
    if not text:
        raise UnknownContent("RawContent has no text a recipient would see")
    return "\n".join(dict.fromkeys(text))


def _no_template(reference: Mapping[str, Any], text: object) -> None:
    if reference.get("Name"):
        if text:
            raise UnknownContent("both a body and a template: the text sent cannot be known")
        raise UnknownContent(f"no source for the template {reference['Name']!r}")


def _email_body(
    address_config: Mapping[str, Any], request: Mapping[str, Any], layers: list[Mapping[str, Any]]
) -> str:
    config = request.get("MessageConfiguration") or {}
    own = config.get("EmailMessage") or {}
    default = config.get("DefaultMessage") or {}
    layers += [own.get("Substitutions") or {}, default.get("Substitutions") or {}]
    simple = own.get("SimpleEmail") or {}
    raw = (own.get("RawEmail") or {}).get("Data")
    override = address_config.get("BodyOverride")
    if simple and raw:
        raise UnknownContent("both SimpleEmail and RawEmail: the email sent cannot be known")
    reference = (request.get("TemplateConfiguration") or {}).get("EmailTemplate") or {}
    _no_template(reference, override or simple or raw or own.get("Body") or default.get("Body"))
    if raw:
        try:
            text, _ = mime_text(raw)
        except ValueError as error:
            raise UnknownContent(str(error)) from None
        return text
    part = simple.get("TextPart") or {}
    markup = simple.get("HtmlPart") or {}
    fallback = None if markup else own.get("Body") or default.get("Body")
    body = override or part.get("Data") or fallback
    return email_text(
        _render(str((simple.get("Subject") or {}).get("Data") or ""), layers),
        _render(str(body or ""), layers),
        None if override else _render(str(markup.get("Data") or ""), layers),
        [(n, _render(v, layers)) for n, v in header_pairs(simple.get("Headers"))],
    )


def _push_body(
    address_config: Mapping[str, Any], request: Mapping[str, Any], layers: list[Mapping[str, Any]]
) -> str:
    config = request.get("MessageConfiguration") or {}
    own = config.get(PUSH_SECTIONS.get(str(address_config.get("ChannelType")), "")) or {}
    push = config.get("DefaultPushNotificationMessage") or {}
    default = config.get("DefaultMessage") or {}
    if own.get("RawContent"):
        return _raw_push(str(own["RawContent"]))
    layers += [
        own.get("Substitutions") or {},
        push.get("Substitutions") or {},
        default.get("Substitutions") or {},
    ]
    title = address_config.get("TitleOverride") or own.get("Title") or push.get("Title")
    body = (
        address_config.get("BodyOverride")
        or own.get("Body")
        or push.get("Body")
        or default.get("Body")
    )
    reference = (request.get("TemplateConfiguration") or {}).get("PushTemplate") or {}
    _no_template(reference, title or body)
    return "\n".join(_render(str(t), layers) for t in (title, body) if t)


def body_for(
    address_config: Mapping[str, Any],
    request: Mapping[str, Any],
    channel: Channel,
    templates: TemplateSource | None,
) -> str:
    """The text the request sends to this address, rendered from the channel's own message
    (``SMSMessage``, ``VoiceMessage``, ``EmailMessage``, the platform's push message and
    ``DefaultPushNotificationMessage``), else ``DefaultMessage``; raises
    :class:`UnknownContent`."""
    if address_config.get("RawContent"):  # "overrides all other values for the message"
        raw = str(address_config["RawContent"])
        return _raw_push(raw) if channel is Channel.PUSH else _raw_body(raw)
    layers: list[Mapping[str, Any]] = [address_config.get("Substitutions") or {}]
    if channel is Channel.EMAIL:
        return _email_body(address_config, request, layers)
    if channel is Channel.PUSH:
        return _push_body(address_config, request, layers)
    config = request.get("MessageConfiguration") or {}
    section = {Channel.SMS: "SMSMessage", Channel.VOICE: "VoiceMessage"}.get(channel)
    own = config.get(section) or {} if section else {}
    default = config.get("DefaultMessage") or {}
    if own.get("RawContent") or default.get("RawContent"):
        return _raw_body(str(own.get("RawContent") or default.get("RawContent")))
    text = address_config.get("BodyOverride") or own.get("Body") or default.get("Body")
    layers += [own.get("Substitutions") or {}, default.get("Substitutions") or {}]
    template_name = {Channel.SMS: "SMSTemplate", Channel.VOICE: "VoiceTemplate"}.get(channel)
    reference = (request.get("TemplateConfiguration") or {}).get(template_name or "") or {}
    if reference.get("Name"):
        if text:
            raise UnknownContent("both a body and a template: the text sent cannot be known")
        if templates is None or channel is not Channel.SMS:
            raise UnknownContent(f"no source for the template {reference['Name']!r}")
        try:
            template = templates(str(reference["Name"]), reference.get("Version"))
        except Exception as error:  # any failure of the source leaves the text unknown
            raise UnknownContent(
                f"template {reference['Name']!r}: {error}", transient=True
            ) from error
        text = template.body
        layers.append(template.defaults)
    return _render(str(text or ""), layers)
