"""The inbound API (shared/api.md): outside systems hand their events to the case file."""
