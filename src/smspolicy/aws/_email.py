"""The text of an email as the policy sees it: the subject, the opt-out headers
(``List-Unsubscribe``, ``List-Unsubscribe-Post``), the text part and the HTML part (its text
and its link targets), from simple parts, a raw MIME message or a rendered template."""

from __future__ import annotations

import email.parser
import email.policy
import html.parser
from collections.abc import Iterable, Mapping, Sequence
from email.message import EmailMessage
from typing import Any

__all__ = ["OPT_OUT_HEADERS", "email_text", "html_text", "mime_text"]

OPT_OUT_HEADERS = ("List-Unsubscribe", "List-Unsubscribe-Post")
"""The headers shown to the content rules (RFC 2369, RFC 8058): where the law needs a working
opt-out, the rules find it in the body or in these headers."""


class _Text(html.parser.HTMLParser):
    """The visible text of an HTML part and the targets of its links (an unsubscribe link is
    an opt-out even when its words are an image)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "title"):
            self._hidden += 1
        for name, value in attrs:
            if name == "href" and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.parts.append(data.strip())


def html_text(markup: str) -> str:
    """The text and link targets of an HTML part, one piece per line."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    return "\n".join(parser.parts)


def email_text(
    subject: str | None,
    text: str | None,
    markup: str | None,
    headers: Iterable[tuple[str, str]] = (),
) -> str:
    """One email as one text: ``Subject:`` and the opt-out header lines, a blank line, then the
    text part and the HTML part's text."""
    head = [f"Subject: {subject}"] if subject else []
    wanted = {name.lower(): name for name in OPT_OUT_HEADERS}
    head += [f"{wanted[n.lower()]}: {v}" for n, v in headers if n.lower() in wanted]
    body = [part for part in (text, html_text(markup) if markup else None) if part]
    return "\n".join(head) + ("\n\n" if head and body else "") + "\n".join(body)


def header_pairs(headers: Sequence[Mapping[str, Any]] | None) -> list[tuple[str, str]]:
    """``[{"Name": ..., "Value": ...}]`` (the AWS ``MessageHeader`` list) as pairs."""
    return [(str(h.get("Name", "")), str(h.get("Value", ""))) for h in headers or ()]


def mime_text(data: object) -> tuple[str, list[tuple[str, str]]]:
    """The text of a raw MIME message (bytes or text) and its recipients as (header, address)
    pairs from To, Cc and Bcc. Raises ValueError when the message cannot be read without
    consuming it."""
    if isinstance(data, bytes | bytearray):
        raw = bytes(data)
    elif isinstance(data, str):
        raw = data.encode("utf-8", "surrogateescape")
    else:
        raise ValueError("the raw message is a stream: its text cannot be read before it is sent")
    parsed = email.parser.BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    texts: dict[str, list[str]] = {"plain": [], "html": []}
    for part in parsed.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        if part.get_content_disposition() == "attachment":
            continue
        subtype = part.get_content_subtype()
        if subtype in texts:
            content = part.get_content()
            texts[subtype].append(str(content))
    headers = [(name, str(value)) for name, value in parsed.items()]
    recipients: list[tuple[str, str]] = []
    for field in ("To", "Cc", "Bcc"):
        for value in parsed.get_all(field) or ():
            recipients += [(field, a.addr_spec) for a in getattr(value, "addresses", ())]
    subject = parsed.get("Subject")
    text = email_text(
        None if subject is None else str(subject),
        "\n".join(texts["plain"]) or None,
        "\n".join(texts["html"]) or None,
        headers,
    )
    return text, recipients
