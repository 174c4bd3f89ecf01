"""govnews extraction side by side with trafilatura and GNE: ``python -m benchmarks.extraction``."""
