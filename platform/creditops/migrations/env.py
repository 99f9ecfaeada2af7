"""Alembic environment: the URL comes from `creditops.db.migrate` or the settings."""

from alembic import context
from sqlalchemy import create_engine

from creditops.db import database_url, metadata
from creditops.settings import get_settings

url = context.config.attributes.get("url") or database_url(get_settings())
context.configure(url=url, target_metadata=metadata, compare_type=True)

if context.is_offline_mode():
    with context.begin_transaction():
        context.run_migrations()
else:
    with create_engine(url).connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
