"""Prefect flows: one folder per process, plus the shared ingest, monitor, dispatch and staff flows.

Flows are thin: they pick the day (the only place the clock is read), call tasks,
and publish what process owners need to see. Parameters carry case ids, never a BSN.
"""
