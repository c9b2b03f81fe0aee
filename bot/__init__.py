"""okrbot: OKR and KPI check-ins in Slack."""

__version__ = "0.1.0"
