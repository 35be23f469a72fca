"""modelgif.fingerprint (docstring to come)."""
