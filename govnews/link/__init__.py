"""Linking reposts to their originals: by declared URL, by agency, title and date, by content.

``linker`` links each article as it is stored; ``relink`` links stored articles
again in one batch (with ``pool``); ``declared`` follows 原文链接; ``graph`` walks
chains of copies; ``agencies`` resolves 来源 names to agencies.
"""
