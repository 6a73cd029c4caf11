"""Batch jobs of the HTTP service: a SQLite job store and a background worker."""
