"""modelgif."""
