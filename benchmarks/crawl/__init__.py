"""Crawl speed and incremental re-runs on a generated snapshot: ``python -m benchmarks.crawl``."""
