"""Orchestration of Dutch civic-integration journeys (inburgering) for DUO.

The package is split so the layout shows where the rules live:

- ``inburgering.domain``   pure rules: calendar, policy, events, process state machines
- ``inburgering.store``    the case file: SQLAlchemy models and Alembic migrations
- ``inburgering.engine``   applies events and timers to the case file in transactions
- ``inburgering.letters``  Jinja2 letter templates and their rendering
- ``inburgering.scenario`` replays scenario files day by day
"""
