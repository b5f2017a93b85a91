"""Scenario files: journeys replayed through the real engine, day by day."""
