"""Persistence: the SQLAlchemy models, engines and sessions, column types and Alembic migrations.

The database is the source of truth: every message is stored here before it is acknowledged
and every reply before it is sent. Nothing in this package commits; the edge (a request, a CLI
command, a job) owns the transaction.
"""
