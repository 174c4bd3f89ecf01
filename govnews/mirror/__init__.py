"""The offline mirror: answer every request of a crawl from a snapshot directory.

Transport only: GOVNEWS_MIRROR changes where bytes come from, over real HTTP on 127.0.0.1;
nothing else knows. Spiders keep their real URLs, and Scrapy's downloader, retries,
redirects, robots.txt handling and encoding detection run as they do against the network.
This package imports nothing else from govnews.

* :mod:`govnews.mirror.paths`: the snapshot layout, :func:`snapshot_path` (which file answers
  which URL: the one rule, for the server, the tests and the benchmarks), :func:`post_key`,
  sidecars and default content types.
* :mod:`govnews.mirror.server`: :class:`SnapshotServer`, the HTTP forward proxy.
* :mod:`govnews.mirror.certificates`: a self-signed certificate per host for https.
* :mod:`govnews.mirror.addon`: the Scrapy side, ``MirrorMiddleware`` and ``MirrorAddon``.
"""

from govnews.mirror.paths import post_key, snapshot_path
from govnews.mirror.server import SnapshotServer

__all__ = ["SnapshotServer", "post_key", "snapshot_path"]
