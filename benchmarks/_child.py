"""Entry point of a client run in a fresh process: ``python -m benchmarks._child MOD FUNC JSON``.

Calls ``benchmarks.MOD.FUNC(params)`` (a coroutine function or a plain one) and prints
its result, a JSON object, as the last line of stdout.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import sys


def main(argv: list[str]) -> int:
    module_name, func_name, raw = argv
    module = importlib.import_module(f"benchmarks.{module_name}")
    func = getattr(module, func_name)
    params = json.loads(raw)
    result = asyncio.run(func(params)) if inspect.iscoroutinefunction(func) else func(params)
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
