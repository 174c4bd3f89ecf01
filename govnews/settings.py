"""Scrapy settings for govnews: every govnews setting and its default lives here."""

from pathlib import Path

BOT_NAME = "govnews"
SPIDER_MODULES = ["govnews.spiders"]
NEWSPIDER_MODULE = "govnews.spiders"
COMMANDS_MODULE = "govnews.commands"

# --- govnews -----------------------------------------------------------------
# Where articles, links, failures and runs are stored (any SQLAlchemy URL).
GOVNEWS_DATABASE_URL = "sqlite:///data/govnews.db"
# Serve every request from this snapshot directory instead of the network …
GOVNEWS_MIRROR = None
# … each answer after this many seconds, as over a network (benchmarks).
GOVNEWS_MIRROR_LATENCY = 0.0
# The sites the `sites` spider crawls, added by configuration (see data/sites.toml).
GOVNEWS_SITES = "data/sites.toml"
# Links from a start page to a listing the sites spider follows to find a site's listings
# when its [[sites]] table names none (home → column → sub-column).
GOVNEWS_DISCOVERY_DEPTH = 2
# `scrapy probesite`: pages it fetches at most, and article pages it reads per listing.
GOVNEWS_PROBE_PAGES = 40
GOVNEWS_PROBE_SAMPLES = 2
# Extract pages in this many worker processes, beside the crawl's (0: in the crawl's
# process, which then sends no request while it reads a page) …
GOVNEWS_EXTRACT_WORKERS = 1
# … where a page taking longer than this many seconds is a failure (0: no limit).
GOVNEWS_EXTRACT_TIMEOUT = 60.0
# Commit the database after this many items (and when the spider closes).
GOVNEWS_BATCH_SIZE = 100
# A batch is one write transaction (BEGIN IMMEDIATE on SQLite). While another connection holds
# the write lock, the batch tries again, the pause between tries doubling from
# GOVNEWS_DATABASE_RETRY_DELAY seconds up to ..._MAX, for GOVNEWS_DATABASE_WAIT seconds in all
# (a lock held 5 minutes is waited out); then the run stops, failed, and keeps what it could
# not write in the spool, which the next run stores first.
GOVNEWS_DATABASE_WAIT = 300.0
GOVNEWS_DATABASE_RETRY_DELAY = 0.5
GOVNEWS_DATABASE_RETRY_DELAY_MAX = 15.0
# Where the spool is (None: beside the SQLite file, <database>.spool; data/spool for a
# server database).
GOVNEWS_SPOOL_DIR = None
# Bytes of the spool's reserve file, removed when the database refuses writes (a full disk) to
# make room for the spool and the run's status (0: none).
GOVNEWS_SPOOL_RESERVE = 4 * 1024 * 1024
# Re-request pages whose extraction or download failed in an earlier run.
GOVNEWS_RETRY_FAILURES = True
# Incremental runs: stored articles are not requested again …
GOVNEWS_INCREMENTAL = True
# … unless the run refreshes everything …
GOVNEWS_REFRESH = False
# … or they were published in the last N days (may still be edited) and fetched
# more than M hours ago.
GOVNEWS_REFRESH_WINDOW = 3
GOVNEWS_REFRESH_AFTER = 24
# A run more than this share of whose requested pages failed is "degraded" (exit code 2).
GOVNEWS_MAX_FAILURE_SHARE = 0.2
# One run at a time per database: this file is locked while a run lasts
# (None: beside the SQLite file, <database>.lock; data/govnews.lock for a server database).
GOVNEWS_LOCK_FILE = None
# The curated agency registry the linker starts from (package data: the Zhangzhou agencies).
GOVNEWS_AGENCIES_FILE = str(Path(__file__).parent / "link" / "agencies" / "agencies.toml")
# scrapy crawlall links again the articles published in the last N days (0: not at all).
GOVNEWS_CRAWLALL_RELINK_DAYS = 30
# scrapy report: rows of each list at most (miscredited, unresolved, failures), originals
# listed with their reposts (most reposted first), runs shown; a site is "silent" when its
# spider's last N finished runs stored no new article of it (0: none is).
GOVNEWS_REPORT_ROWS = 200
GOVNEWS_REPORT_ORIGINALS = 100
GOVNEWS_REPORT_RUNS = 20
GOVNEWS_REPORT_QUIET_RUNS = 7
# scrapy browse: the port Datasette listens on, on 127.0.0.1.
GOVNEWS_BROWSE_PORT = 8001
# The outbound policy (govnews/crawl/outbound.py) connects to public addresses only; these
# exact IP:PORT pairs are let through besides, for the servers tests and benchmarks start
# on 127.0.0.1 (-s GOVNEWS_OUTBOUND_ALLOW=127.0.0.1:8765). Empty: none.
GOVNEWS_OUTBOUND_ALLOW = ()
# The shared frontier (docs/distributed.md): a Redis URL (redis://host:port/db) makes every
# crawl a worker of its spider's run, sharing one queue, seen set and per-host delay and
# concurrency with the other workers (None: each crawl alone, in memory). Keys start with
# the prefix.
GOVNEWS_REDIS_URL = None
GOVNEWS_REDIS_PREFIX = "govnews"
# A worker renews its heartbeat every this many seconds; one silent this long is dead,
# and the requests it held go back to the queue.
GOVNEWS_FRONTIER_HEARTBEAT = 0.5
GOVNEWS_FRONTIER_TIMEOUT = 15.0
# On the shared frontier, a host's CONCURRENT_REQUESTS_PER_DOMAIN (or its DOWNLOAD_SLOTS
# concurrency) is the whole run's, through leases in Redis (False: each worker's own, as
# without Redis). A request waiting for a lease asks again every this many seconds.
GOVNEWS_SHARED_CONCURRENCY = True
GOVNEWS_HOST_LEASE_POLL = 0.05
# Names are resolved to public addresses only, when the connection is made.
TWISTED_DNS_RESOLVER = "govnews.crawl.outbound.OutboundResolver"

# The crawl's shared components, reached through crawler.get_extension().
EXTENSIONS = {
    "govnews.crawl.crawldb.CrawlDatabase": 500,
    "govnews.crawl.incremental.KnownArticles": 510,
    "govnews.crawl.extraction_pool.ExtractionPool": 520,
    # Every requested page stored, failed, skipped or a listing (govnews/pages/* stats).
    "govnews.crawl.accounting.PageAccounting": 530,
}
ADDONS = {
    "govnews.mirror.addon.MirrorAddon": 0,
    # Only with GOVNEWS_REDIS_URL: the shared frontier's scheduler, leases and delay.
    "govnews.crawl.frontier.addon.FrontierAddon": 10,
}
ITEM_PIPELINES = {
    "govnews.crawl.pipelines.ValidatePipeline": 100,
    "govnews.crawl.pipelines.StorePipeline": 200,
    "govnews.crawl.pipelines.LinkPipeline": 300,
}
SPIDER_MIDDLEWARES = {
    "govnews.crawl.retry.RetryFailedPagesMiddleware": 50,
    "govnews.crawl.incremental.SkipKnownArticlesMiddleware": 60,
}
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "govnews.crawl.robotstxt.RobotsTxtMiddleware": 100,
    # Scrapy's, with a chain longer than REDIRECT_MAX_TIMES a failure of stage "redirect".
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "govnews.crawl.accounting.RedirectLimitMiddleware": 600,
    # After HttpProxyMiddleware (its proxy is judged), before the cache, the backoff and
    # the mirror: every request the outbound policy refuses, before any connection.
    "govnews.crawl.outbound.OutboundMiddleware": 880,
    # Just before the download, so that only retried requests wait.
    "govnews.crawl.retry.RetryBackoffMiddleware": 890,
    # Last, so that no other middleware can send a mirrored request to the network.
    "govnews.mirror.addon.MirrorMiddleware": 950,
}

# A response gives at most one article; Scrapy starts this many tasks for the output
# of every response (its default, 100, costs more than the processing itself).
CONCURRENT_ITEMS = 8

# --- politeness on the real web ------------------------------------------------
USER_AGENT = "govnews/0.1 (+https://github.com/govnews/govnews)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
RETRY_TIMES = 3
# Retries (5xx, timeouts) wait 2 s, 4 s, 8 s … at most 60 s (0: retry at once).
GOVNEWS_RETRY_BACKOFF = 2.0
GOVNEWS_RETRY_BACKOFF_MAX = 60.0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
# For development: -s HTTPCACHE_ENABLED=True keeps every response for a day in
# .scrapy/httpcache, so that re-running a spider does not hit the sites again.
HTTPCACHE_ENABLED = False
HTTPCACHE_EXPIRATION_SECS = 24 * 3600
HTTPCACHE_IGNORE_HTTP_CODES = [429, 500, 502, 503, 504, 521, 522, 524]
# Feeds in readable UTF-8 (Chinese text, not \u escapes).
FEED_EXPORT_ENCODING = "utf-8"
# CSV feeds (-O run.csv) and exports neutralise formula cells; a UTF-8 BOM for Excel if True.
FEED_EXPORTERS = {"csv": "govnews.crawl.exporters.SafeCsvItemExporter"}
GOVNEWS_CSV_BOM = False
LOG_LEVEL = "INFO"
