"""The errors govnews reports to a person as one line: bad input, never a bug.

Every command prints a :class:`GovnewsError` as ``govnews: <message>`` and exits
non-zero, without a traceback; any other exception is a bug and keeps its
traceback. The classes live in ``core`` so that every layer can raise them: the
store (a database that cannot be used), the crawl (a sites file), the commands
(a setting, a page too large to read).
"""


class GovnewsError(Exception):
    """Input govnews cannot use; the message says which and why, in one line."""


class ConfigError(GovnewsError, ValueError):
    """A setting, or a file a setting names, that cannot be used."""


class DatabaseError(GovnewsError, RuntimeError):
    """The database of ``GOVNEWS_DATABASE_URL`` cannot be opened, or is no govnews database."""


class InputError(GovnewsError, ValueError):
    """Input given to a command that it does not take: too large, not an http(s) URL."""
