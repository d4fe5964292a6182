"""Alembic migrations of the whole schema, shipped inside the package."""
