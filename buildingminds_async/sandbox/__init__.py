"""A local emulator of the BuildingMinds ingestion API, for demos and tests.

```python
from buildingminds_async.sandbox import Fault, Sandbox

sandbox = Sandbox(rate_limit=20, processing_delay=0.5)
transport = sandbox.transport()                  # in process: an httpx transport
async with sandbox.serve() as server:            # or a real loopback server
    print(server.base_url, server.token_url)
sandbox.inject(Fault("reset"))                   # the next push is stored, then reset
sandbox.ledger.stored("building")                # what the sandbox kept
```

Layout of a served sandbox (``http://127.0.0.1:PORT``):

- ``POST /{tenant}/oauth2/v2.0/token``: client credentials (Entra ID shapes);
- ``/api/digitaltwinintegration``: the API base URL: ``POST /<entity>`` for every
  entity, ``GET /batch``, ``GET /batch/{batchId}/inbound``;
- ``GET /openapi.json``: what the sandbox does, as OpenAPI 3.1;
- ``/_sandbox/...``: admin endpoints, outside the API: ``GET ledger``,
  ``GET ledger/batches``, ``GET ledger/stored/{entity}``, ``GET ledger/received/{entity}``,
  ``GET|POST config``, ``GET|POST|DELETE faults``, ``POST revoke-tokens``, ``POST reset``.

Names are imported on first use: the pytest plugin of this package is loaded in every
pytest run, and must not pay for (or require) what only a sandbox needs. Serving needs
the ``[sandbox]`` extra (uvicorn); the in-process sandbox needs only the SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._config import SandboxConfig
    from ._faults import Fault, FaultKind, FaultTarget
    from ._ledger import BatchSnapshot, Ledger, MessageSnapshot
    from ._sandbox import Sandbox
    from ._server import SandboxServer

__all__ = [
    "BatchSnapshot",
    "Fault",
    "FaultKind",
    "FaultTarget",
    "Ledger",
    "MessageSnapshot",
    "Sandbox",
    "SandboxConfig",
    "SandboxServer",
]

_WHERE = {
    "BatchSnapshot": "._ledger",
    "Fault": "._faults",
    "FaultKind": "._faults",
    "FaultTarget": "._faults",
    "Ledger": "._ledger",
    "MessageSnapshot": "._ledger",
    "Sandbox": "._sandbox",
    "SandboxConfig": "._config",
    "SandboxServer": "._server",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
