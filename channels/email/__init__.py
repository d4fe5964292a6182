"""Email: SMTP/LMTP listener, IMAP poller, MIME parser and outbound mail; its descriptor is
``channel.EMAIL``."""

CHANNEL = "email"
