"""monitor: the EU news watch bot."""

__version__ = "0.1.0"
