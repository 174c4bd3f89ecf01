"""Why a page gave no article: each carries a reason that is stored with the page's URL."""


class ExtractionError(Exception):
    """The page looks like an article but a required part could not be extracted."""

    stage = "extract"

    @property
    def reason(self) -> str:
        return str(self)


class NotAnArticle(ExtractionError):
    """The page is no article (a listing, a home page, an about page)."""


class ErrorPage(ExtractionError):
    """A challenge, error or soft-404 page served in place of the content."""
