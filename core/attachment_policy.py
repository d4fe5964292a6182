"""Which files a message brings are held back (quarantined): over the size limit, a blocked
extension (the last one counts: ``invoice.pdf.exe``), or content that sniffs as a blocked
type whatever its name says (an executable called ``invoice.pdf``).

A held file is kept, never lost: stored with the message and marked in the export, but
forwarded nowhere (not to agents' inboxes, not to another channel) until an operator releases
it (``threadline attachments release ID``).
"""

from __future__ import annotations

import filetype

from threadline.core.normalized import InboundAttachment
from threadline.core.settings import AttachmentSettings


def held_because(attachment: InboundAttachment, policy: AttachmentSettings) -> str | None:
    """Why the file is held back; None: it may go on."""
    size = len(attachment.content)
    if size > policy.max_bytes:
        return f"{size} bytes, over the limit of {policy.max_bytes} (attachments.max_bytes)"
    name = attachment.filename.strip().lower()
    extension = "." + name.rsplit(".", 1)[1] if "." in name else ""
    if extension and extension in policy.blocked_extensions:
        return f"its extension {extension} is blocked (attachments.blocked_extensions)"
    sniffed = filetype.guess_mime(attachment.content[:8192])
    if sniffed in policy.blocked_types:
        return f"its content is {sniffed}, a blocked type (attachments.blocked_types)"
    return None
