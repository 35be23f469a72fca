"""modelgif.reports (docstring to come)."""
