"""Parley: a private AI assistant you run for yourself."""

__version__ = "0.1.0"
