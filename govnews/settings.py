"""Scrapy settings for govnews: every govnews setting and its default lives here."""

BOT_NAME = "govnews"
SPIDER_MODULES = ["govnews.spiders"]
NEWSPIDER_MODULE = "govnews.spiders"
COMMANDS_MODULE = "govnews.commands"

# --- govnews -----------------------------------------------------------------
# Where articles, links, failures and runs are stored (any SQLAlchemy URL).
GOVNEWS_DATABASE_URL = "sqlite:///data/govnews.db"
# Serve every request from this snapshot directory instead of the network.
GOVNEWS_MIRROR = None
# Commit the database after this many items (and when the spider closes).
GOVNEWS_BATCH_SIZE = 100
# Re-request pages whose extraction or download failed in an earlier run.
GOVNEWS_RETRY_FAILURES = True

ADDONS = {
    "govnews.mirror.MirrorAddon": 0,
}
ITEM_PIPELINES = {
    "govnews.pipelines.ValidatePipeline": 100,
    "govnews.pipelines.StorePipeline": 200,
    "govnews.pipelines.LinkPipeline": 300,
}
SPIDER_MIDDLEWARES = {
    "govnews.middlewares.RetryFailedPagesMiddleware": 50,
}
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "govnews.robotstxt.RobotsTxtMiddleware": 100,
    # Last, so that no other middleware can send a mirrored request to the network.
    "govnews.mirror.MirrorMiddleware": 950,
}

# --- politeness on the real web ------------------------------------------------
USER_AGENT = "govnews/0.1 (+https://github.com/govnews/govnews)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
RETRY_TIMES = 3
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
# Feeds in readable UTF-8 (Chinese text, not \u escapes).
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"
