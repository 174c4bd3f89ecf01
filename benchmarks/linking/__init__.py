"""Measurements of repost linking.

``python -m benchmarks.linking.accuracy`` scores the links made on the labelled pages of
``tests/fixtures/linking``; ``python -m benchmarks.linking.scale`` times linking generated
articles (``benchmarks/linking/generate.py``) from scratch at 10k and 100k articles.
"""
