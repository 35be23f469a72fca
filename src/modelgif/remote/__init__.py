"""A suspect behind a real inference server: the Open Inference Protocol (KServe v2) client,
its query log, and the oracle that turns probe points into answers for a verdict.

    client.py     HTTP with timeouts, size caps, retries (5xx, 429 Retry-After), rate limit
    querylog.py   one JSONL line per request attempt, hashed into the signed verdict record
    oracle.py     probe points -> infer requests -> Answers of one output kind
"""

from modelgif.remote.client import ClientLimits, InferenceClient, RemoteError
from modelgif.remote.oracle import remote_oracle
from modelgif.remote.querylog import QueryLog

__all__ = ["ClientLimits", "InferenceClient", "QueryLog", "RemoteError", "remote_oracle"]
