"""Async Python SDK for the BuildingMinds ingestion API.

```python
from buildingminds_async import AsyncClient

async with AsyncClient() as client:            # configured from BUILDINGMINDS_* variables
    report = await client.onboard(records)     # every record: completed/failed/invalid/pending
```
"""

from ._auth import AccessToken, ClientCredentials
from ._chunking import RecordRef
from ._client import AsyncClient, BatchId, ClientStatistics
from ._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BatchError,
    BatchTimeoutError,
    BuildingMindsError,
    ConfigurationError,
    CredentialsError,
    InternalServerError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
)
from ._journal import Journal
from ._onboarding import (
    OnboardingReport,
    Progress,
    RecordFailure,
    RecordValidationError,
    RunStatistics,
    SourceRecord,
)
from ._polling import BatchResult
from ._ratelimit import RateGate, RateGateStatistics
from ._retry import RetryBudget, RetryPolicy
from ._version import __version__

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AccessToken",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "BatchError",
    "BatchId",
    "BatchResult",
    "BatchTimeoutError",
    "BuildingMindsError",
    "ClientCredentials",
    "ClientStatistics",
    "ConfigurationError",
    "CredentialsError",
    "InternalServerError",
    "Journal",
    "MethodNotAllowedError",
    "NotFoundError",
    "OnboardingReport",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "Progress",
    "RateGate",
    "RateGateStatistics",
    "RateLimitError",
    "RecordFailure",
    "RecordRef",
    "RecordValidationError",
    "RetryBudget",
    "RetryPolicy",
    "RunStatistics",
    "ServiceUnavailableError",
    "SourceRecord",
    "__version__",
]
