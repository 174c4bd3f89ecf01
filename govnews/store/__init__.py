"""Storage of govnews data: schema, database setup and the repository."""

from govnews.store.database import open_database, session_factory
from govnews.store.repository import Repository, SaveResult, SaveStatus

__all__ = ["Repository", "SaveResult", "SaveStatus", "open_database", "session_factory"]
