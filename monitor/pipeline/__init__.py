"""The orchestrator: the only code that imports several stages.

``poll``: fetch -> parse -> store -> match -> route, one transaction per feed.
``deliver``: outbox -> render -> send -> record.
"""
