"""Signed reply tokens: what lets a mail or chat reply find its ticket (and agent) unforgeably.

A token reads ``t<ticket>-<signature>`` or ``t<ticket>a<agent>-<signature>``. The signature is an
HMAC-SHA256 over the payload with the configured secret, cut to 80 bits and written in lower-case
base32: short enough for an address local part, case-insensitive like one, and not guessable, so
ticket numbers cannot be enumerated into someone else's conversation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

SIGNATURE_CHARS = 16
_TOKEN = re.compile(r"^t(?P<ticket>[1-9][0-9]*)(?:a(?P<agent>[1-9][0-9]*))?-(?P<sig>[a-z2-7]{16})$")


@dataclass(frozen=True)
class ReplyToken:
    ticket_id: int
    agent_id: int | None = None
    """Set on tokens handed to an agent: a reply through it speaks as that agent."""


class TokenSigner:
    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the token secret is empty")
        self._key = secret.encode()

    def sign(self, token: ReplyToken) -> str:
        return self.seal(f"t{token.ticket_id}" + (f"a{token.agent_id}" if token.agent_id else ""))

    def verify(self, text: str) -> ReplyToken | None:
        """The token's content, or None when it was altered, forged or is not a token at all."""
        match = _TOKEN.match(text.strip().lower())
        if match is None:
            return None
        payload = text.strip().lower().rsplit("-", 1)[0]
        if not hmac.compare_digest(self._signature(payload), match["sig"]):
            return None
        agent = match["agent"]
        return ReplyToken(int(match["ticket"]), int(agent) if agent else None)

    def seal(self, payload: str) -> str:
        """``payload`` and its signature: a reply token, or another proof of ours (a file's
        link) whose payload starts with a letter other than a token's ``t``."""
        return f"{payload}-{self._signature(payload)}"

    def unseal(self, text: str) -> str | None:
        """The payload of what :meth:`seal` made; None for anything altered or forged."""
        payload, _, signature = text.rpartition("-")
        if not payload or not hmac.compare_digest(self._signature(payload), signature):
            return None
        return payload

    def _signature(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return base64.b32encode(digest).decode().lower()[:SIGNATURE_CHARS]
