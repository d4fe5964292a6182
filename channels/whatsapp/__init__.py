"""WhatsApp through Twilio: customers write on WhatsApp, agents answer by mail or in Slack."""

CHANNEL = "whatsapp"
MESSAGE = "message"
"""The kind of an item (its ``meta``) that is a client's message."""
STATUS = "status"
"""The kind of an item that is a status callback about one of ours."""
MEDIA_PATH = "/twilio/media"
"""Where Twilio fetches the files of our replies (``media_links.py``)."""
