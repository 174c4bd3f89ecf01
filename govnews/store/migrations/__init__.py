"""Alembic revisions of the govnews schema; :func:`~govnews.store.database.open_database` runs them.

``versions/`` holds one file per revision, in order: ``0001`` the first
release's tables, ``0002`` the second release's (the linking tables,
``reposts.declared_url`` and ``declared_key`` nullable), ``0003`` an index of
``repost_sources`` by date, ``0004`` the paging watermarks. The models
(``govnews/store/models.py``, ``agencies.py``, ``textindex.py``) always
describe the newest revision: an empty database gets them by ``create_all``
and is stamped, and ``tests/test_migrations.py`` checks that running every
revision gives exactly the same schema.

Adding a revision, when a model changes:

1. Change the model.
2. Generate the revision against a scratch database at the previous head
   (the URL is given with ``-x url=``; ``[tool.alembic]`` in pyproject.toml
   points the ``alembic`` command here)::

       alembic -x url=sqlite:////tmp/head.db upgrade head
       alembic -x url=sqlite:////tmp/head.db revision --autogenerate \\
           --rev-id 0004 -m "what changed"

   or write ``versions/0003_<what>.py`` by hand from ``script.py.mako``
   (``down_revision`` the previous file's ``revision``).
3. Read it: give new NOT NULL columns a ``server_default`` (existing rows need
   a value), name every constraint you create, write explicit table
   definitions rather than importing the models (they keep changing). On
   SQLite, changes other than adding a column rebuild the table
   (``op.batch_alter_table``; env.py turns batch mode on); to drop an unnamed
   constraint give ``batch_alter_table`` a ``naming_convention``, and for
   ``scrapy migrate --sql`` (offline, nothing to reflect) a ``copy_from``
   table, as ``0002`` does.
4. Add the new revision's rows and columns to ``tests/test_migrations.py``
   and run it: it upgrades databases of every earlier release and compares
   the result with the models.

Nothing else changes: every database the new revision meets is stamped, so
:func:`~govnews.store.database.unversioned_revision` only knows the releases
made before Alembic.
"""
