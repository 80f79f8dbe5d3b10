"""Async Python SDK for the BuildingMinds ingestion API.

```python
from buildingminds_async import AsyncClient

async with AsyncClient() as client:            # configured from BUILDINGMINDS_* variables
    report = await client.onboard(records)     # every record: completed/failed/invalid/pending
```

Everything a user touches is exported here and nothing else; each name reports this
module as its ``__module__`` (reprs, docs and pickles do not depend on the private layout).
"""

from ._auth import TokenStatistics
from ._client import AsyncClient, ClientStatistics
from ._credentials import ClientCredentials
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
    RecordValidationError,
    ServiceUnavailableError,
)
from ._events import (
    BatchAcceptedEvent,
    BatchFinishedEvent,
    EventHooks,
    RateLimitedEvent,
    RequestEvent,
    RetryEvent,
    TokenEvent,
)
from ._version import __version__
from .models import BatchResult
from .onboarding import (
    ChunkSizes,
    Journal,
    OnboardingReport,
    OnboardOptions,
    Progress,
    RecordFailure,
    RunStatistics,
    SizeChange,
    SourceRecord,
    read_in_thread,
)
from .resources.pushes import BatchId
from .sync import DeleteGuardError, SyncOptions, SyncReport

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "BatchAcceptedEvent",
    "BatchError",
    "BatchFinishedEvent",
    "BatchId",
    "BatchResult",
    "BatchTimeoutError",
    "BuildingMindsError",
    "ChunkSizes",
    "ClientCredentials",
    "ClientStatistics",
    "ConfigurationError",
    "CredentialsError",
    "DeleteGuardError",
    "EventHooks",
    "InternalServerError",
    "Journal",
    "MethodNotAllowedError",
    "NotFoundError",
    "OnboardOptions",
    "OnboardingReport",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "Progress",
    "RateLimitError",
    "RateLimitedEvent",
    "RecordFailure",
    "RecordValidationError",
    "RequestEvent",
    "RetryEvent",
    "RunStatistics",
    "ServiceUnavailableError",
    "SizeChange",
    "SourceRecord",
    "SyncOptions",
    "SyncReport",
    "TokenEvent",
    "TokenStatistics",
    "__version__",
    "read_in_thread",
]

for _name in __all__:
    if not _name.startswith("__"):
        globals()[_name].__module__ = __name__
del _name
