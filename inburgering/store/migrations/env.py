"""Alembic environment: runs on the engine the application hands it."""

from alembic import context

from inburgering.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # inburgering.store.db.migrate: a connection holding the migration lock
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        context.run_migrations()
        return
    engine = config.attributes.get("engine")
    if engine is None:
        from inburgering.store.db import make_engine

        engine = make_engine()
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        context.run_migrations()


run_migrations_online()
