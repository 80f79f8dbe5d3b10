"""The ``buildingminds`` command (extra ``[cli]`` for the progress bar).

```
buildingminds onboard FILE... [--entity TYPE] [--chunk-size auto|N] [--concurrency N] [--rate R]
                      [--timeout S] [--no-wait] [--strict-order] [--rejects PATH]
                      [--journal PATH | --no-journal] [--json] [--quiet]
buildingminds validate FILE...            offline, exactly the checks of onboard
buildingminds batches list|show ID|wait ID...
buildingminds config                      the settings in effect, and their sources
buildingminds sandbox [--port 8080 ...]   a local emulator of the API
buildingminds demo                        the whole job against a local sandbox
```

Exit codes: 0 every record completed, 1 some failed or were invalid, 2 usage or
configuration, 3 authentication, 4 transient (run again to resume), 130 interrupted.
"""

from ._main import main

__all__ = ["main"]
