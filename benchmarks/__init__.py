"""Side-by-side benchmarks of buildingminds_async: ``make bench`` (``python -m benchmarks.run``).

Every figure is a ratio against a baseline measured in the same invocation; see README.md.
"""
