"""Keel benchmarks, run by ``make bench`` (``python -m bench``).

Every figure is printed beside raw SQLAlchemy Core doing the same work in
the same run, on the same engine and table; ``bench/results.json`` keeps
one entry per figure (merged by name, so later benchmarks add theirs).
``KEEL_BENCH_ROWS`` shrinks the data set for a quick run.
"""
