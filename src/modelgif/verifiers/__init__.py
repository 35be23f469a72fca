"""modelgif.verifiers (docstring to come)."""
