"""The ``parley`` command."""
