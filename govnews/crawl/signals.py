"""govnews's own Scrapy signals."""

#: Sent when a page could not be fetched or extracted.
#: Arguments: ``url``, ``stage`` (download, http, extract), ``reason``, ``spider``.
page_failed = object()
