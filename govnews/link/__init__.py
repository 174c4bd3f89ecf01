"""Matching pages by URL and linking reposts to the originals they declare.

``govnews.link.urls`` normalises URLs into keys; ``govnews.link.declared``
links a stored article to the original it names (import it explicitly).
"""

from govnews.link.urls import site_of, url_key

__all__ = ["site_of", "url_key"]
