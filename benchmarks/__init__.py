"""The benchmark harness: ``make bench`` or ``python -m benchmarks``.

It runs on its own embedded stack (``.stack/bench``) with fauxqs as the SQS endpoint, generates
the data in PostgreSQL, measures every figure side by side, and prints one table (also written to
``benchmarks/results.md``). Nothing here is imported by the product, and no figure is a test
assertion.
"""
