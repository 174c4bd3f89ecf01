"""Pages that stand in for content: WAF challenges, soft 404s, empty shells."""

from __future__ import annotations

import re

from govnews.extract.errors import ErrorPage
from govnews.extract.page import Page

_CHALLENGE = re.compile(
    r"\$_ts\s*=|__jsluid|安全验证|访问异常|人机验证|访问过于频繁|请开启JavaScript"
)
_SOFT_404 = re.compile(
    r"(?:您访问的|你访问的|您要访问的|您所访问的|该|此)?(?:页面|网页|文章|信息|内容)"
    r"(?:不存在|已删除|已被删除|找不到|未找到|已过期|已下线)"
    # 404 alone, not inside a number (第14040218号建议的复函 is a document number).
    r"|(?<![\d第])404(?![\d号])\s*(?:not found|错误|error)?",
    re.IGNORECASE,
)
_SHORT = 60
# The <title> of a server's or a WAF's error page (nginx, IIS, CloudFront, Akamai, F5 …),
# with or without its status: 403 Forbidden, Access Denied, ERROR: The request could not
# be satisfied, The URL you requested has been blocked, Attention Required! | Cloudflare.
_ERROR_TITLE = re.compile(
    r"^\s*(?:(?:HTTP\s*)?[45]\d\d\b\s*[:\-–]?\s*)?(?:error\b\s*[:\-–]?\s*)?(?:"
    r"forbidden|access denied|not found|bad request|bad gateway|gateway time-?out|"
    r"service (?:temporarily )?unavailable|internal server error|request (?:rejected|blocked)|"
    r"the request could not be satisfied|"
    r"the (?:url|page|access) (?:you requested )?(?:has been |is )?blocked|"
    r"attention required|just a moment|web page blocked|access to this page"
    r")",
    re.IGNORECASE,
)
# Pages that long or longer hold more than an error message.
_ERROR_PAGE_TEXT = 1500


_CHALLENGE_STATUS = frozenset({412, 521})


def status_reason(status: int) -> str | None:
    """Why a response with this HTTP status holds no content, or None for a usable status."""
    if status in _CHALLENGE_STATUS:
        return f"anti-bot challenge (HTTP {status})"
    return f"HTTP {status}" if status >= 400 else None


def check_status(status: int) -> None:
    """Raise ErrorPage for an HTTP status that carries no content (WAF challenges say 412/521)."""
    if reason := status_reason(status):
        raise ErrorPage(reason)


def check_not_error_page(page: Page, has_info_line: bool) -> None:
    """Raise ErrorPage when the page is a challenge, a soft 404 or an empty shell."""
    body_text = " ".join(page.lines)
    if len(body_text) < 400 and _CHALLENGE.search(page.html):
        raise ErrorPage("anti-bot challenge page instead of content")
    if _SOFT_404.search(page.head_title):
        raise ErrorPage(f"error page: title says {page.head_title!r}")
    if len(body_text) < _ERROR_PAGE_TEXT and _ERROR_TITLE.match(page.head_title):
        raise ErrorPage(f"error page: title says {page.head_title!r}")
    if not has_info_line:
        for _, text in page.short_texts(_SHORT):
            if _SOFT_404.fullmatch(text.strip("!！。 ")):
                raise ErrorPage(f"soft 404: page says {text!r}")
    if not body_text:
        if page.truncated:
            raise ErrorPage("no visible text before markup nested deeper than the parser reads")
        raise ErrorPage("empty page: no visible text")
