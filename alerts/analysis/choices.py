"""States and triggers of an analysis, each with the colour the pages use."""

from django.db import models


class AnalysisStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"

    @property
    def colour(self) -> str:
        return {"pending": "grey", "running": "blue", "done": "green", "failed": "red"}[self.value]


class AnalysisTrigger(models.TextChoices):
    API = "api", "API (seed 003)"
    INSIGHTS = "insights", "Insights (seed 004)"
    ALERT_PAGE = "alert_page", "Alert page"
    ADMIN = "admin", "Admin action"
    ALERT_FIRED = "alert_fired", "Critical alert fired"
