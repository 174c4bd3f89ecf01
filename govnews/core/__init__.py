"""Pure leaf code that every other package may use: URL keys, text fingerprints, time, text.

Nothing here imports another govnews package, Scrapy or SQLAlchemy; see
``docs/architecture.md`` for the layers above it.
"""
