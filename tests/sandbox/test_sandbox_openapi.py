"""Property-based check of the sandbox against its own OpenAPI document (schemathesis).

Every operation is exercised in process (schemathesis' ASGI client) with a valid bearer
token and no faults armed: no answer may be a 5xx, every answer must match its documented
status, content type, headers and schema, and a request without the token must be refused.

For the entity POSTs (tag ``ingestion``) two things differ, both because a push whose
*records* break their schema is accepted (200 and a Batch ID) and its records end
``FailedValidation`` later, as on the real API: ``negative_data_rejection`` is off, and so
is the coverage phase, whose boundary cases would mostly be such invalid records (and
cost most of the run). What a push refuses (not an array, an empty array, 413) is pinned
down by the loopback tests.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from buildingminds_async.sandbox import Sandbox

SANDBOX = Sandbox()
TOKEN = SANDBOX.issue_token()
CONFIG = schemathesis.Config.from_dict(
    {
        "operations": [
            {
                "include-tag": "ingestion",
                "checks": {"negative_data_rejection": {"enabled": False}},
                "phases": {"coverage": {"enabled": False}},
            }
        ]
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", SANDBOX.app, config=CONFIG)


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi(case: schemathesis.Case) -> None:
    """Without injected faults no request gets a 5xx and every answer matches the schema."""
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})
    assert SANDBOX.ledger.counters.get("unexpected_errors", 0) == 0
