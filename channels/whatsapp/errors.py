"""What Twilio's error codes for WhatsApp mean, in the words an agent reads on the ticket."""

from __future__ import annotations

MEANINGS = {
    "30003": "the client's phone is unreachable",
    "30005": "the number is unknown or no longer exists",
    "30006": "the number cannot receive messages (a landline, or its carrier refuses)",
    "30007": "the carrier filtered the message",
    "30008": "an unknown error at the carrier",
    "63003": "the number is not on WhatsApp",
    "63016": "free text outside the client's 24-hour window: only an approved template gets "
    "through (whatsapp.template_content_sid)",
    "63018": "WhatsApp's rate limit for this sender was exceeded",
    "63024": "the recipient is not a valid WhatsApp user",
    "63032": "the client has blocked messages from this sender",
}


def described(code: str | int | None) -> str:
    if not code:
        return "Twilio gave no error code"
    meaning = MEANINGS.get(str(code))
    return f"Twilio error {code}: {meaning}" if meaning else f"Twilio error {code}"
