"""Parley's benchmarks: what Parley adds on top of the model, each figure against a baseline of the same run.

Run them all with ``make bench`` (or ``python -m bench``), one with ``python -m bench --only NAME``.
See bench/README.md for how to read the table.
"""
