"""Transports: Telegram, e-mail (SMTP or .eml files) and the console.

Every adapter implements :class:`monitor.deliver.base.Sender`; formatting happens
before, in ``monitor.render``; which rows to send, and recording what was sent, in the
outbox worker of ``monitor.pipeline``.
"""
