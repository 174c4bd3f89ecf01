"""The shared frontier: N crawl workers of one spider sharing one queue in Redis.

With ``GOVNEWS_REDIS_URL`` set, :class:`~govnews.crawl.frontier.addon.FrontierAddon`
puts every crawl on it: a run registry with leases and heartbeats
(:mod:`~govnews.crawl.frontier.registry`), a scheduler, queue and duplicate filter
built on scrapy-redis (:mod:`~govnews.crawl.frontier.scheduler`), and a per-host
concurrency limit and delay shared by every worker
(:mod:`~govnews.crawl.frontier.politeness`), and each host's robots.txt read once a
run (:mod:`~govnews.crawl.frontier.robotstxt`). The
design, the keys and their sizes are in docs/distributed.md.
"""
