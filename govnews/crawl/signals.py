"""govnews's own Scrapy signals."""

#: Sent when a page could not be fetched or extracted.
#: Arguments: ``url``, ``stage`` (download, http, extract, policy …), ``reason``, ``spider``,
#: ``callback`` and ``listing`` (the page could have led to listing pages).
page_failed = object()
