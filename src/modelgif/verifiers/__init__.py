"""modelgif.verifiers: fingerprint + suspect -> Verdict (ownership; unlearning)."""
