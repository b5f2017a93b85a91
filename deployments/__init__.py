"""How flows are served: the embedded one-process default (serve.py) and, for
production, the work-pool deployments in ../prefect.yaml (same names and schedules)."""
