"""``python -m buildingminds_async.cli``: the ``buildingminds`` command."""

from ._main import main

raise SystemExit(main())
