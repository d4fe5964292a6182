"""Email: SMTP/LMTP listener, IMAP poller, MIME parser and outbound mail."""
