"""modelgif.reports: verdicts -> signed evidence.json -> offline report.html."""
