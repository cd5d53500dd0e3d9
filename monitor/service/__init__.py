"""The long-running service: scheduler, bot commands, hot reload, metrics."""
