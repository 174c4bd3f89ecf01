"""White space as Chinese pages write it: full-width, non-breaking and zero-width spaces too."""

from __future__ import annotations

import re

_SPACE = re.compile(r"[\s\u3000\xa0\u200b\ufeff]+")


def clean_space(text: str) -> str:
    """Collapse runs of white space (full-width and non-breaking too) to one space; strip."""
    return _SPACE.sub(" ", text).strip()
