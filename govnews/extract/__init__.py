"""Extraction: (bytes or text, URL) in, article record out; no Scrapy engine, no database."""

from govnews.extract.article import extract_article, kind_of
from govnews.extract.errors import ErrorPage, ExtractionError, NotAnArticle

__all__ = ["ErrorPage", "ExtractionError", "NotAnArticle", "extract_article", "kind_of"]
