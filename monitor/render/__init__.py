"""Pure formatting of alerts and digests (no I/O): Telegram HTML and e-mail text/HTML."""
