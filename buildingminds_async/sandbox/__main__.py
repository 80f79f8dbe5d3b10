"""``python -m buildingminds_async.sandbox --port 8080``: run a sandbox in the foreground."""

from ._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
