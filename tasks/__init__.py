"""Prefect tasks: the I/O steps. Each is thin and calls the engine; each is safe to retry."""
