"""Applies events and timers to the case file, in batches, in transactions."""
