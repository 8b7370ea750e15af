"""migbot: verify a branch's Alembic migrations on a throwaway PostgreSQL."""

__version__ = "0.1.0"
