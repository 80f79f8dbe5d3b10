"""The guides in docs/ run as written: every Python block, in order, against the sandbox.

The blocks of one page share a namespace (a page is one session of ``python -m asyncio``,
where a top-level ``await`` is allowed). A block preceded by ``<!-- not run: why -->`` is
shown only (a pytest test module, say). ``REDIS_URL`` is given to the pages that need a
Redis (a real redis-server on loopback, as in tests/redis).
"""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = sorted(
    p
    for p in DOCS.glob("*.md")
    if p.name not in {"index.md", "cli.md", "api.md", "architecture.md"}
)
REDIS_SUPPORT = Path(__file__).resolve().parents[1] / "redis" / "conftest.py"
_BLOCK = re.compile(r"(<!-- not run[^>]*-->\s*)?```python\n(.*?)```", re.S)

pytestmark = pytest.mark.slow


def blocks(page: Path) -> list[str]:
    return [code for skip, code in _BLOCK.findall(page.read_text(encoding="utf-8")) if not skip]


async def run_page(page: Path, namespace: dict[str, Any]) -> None:
    for number, code in enumerate(blocks(page), 1):
        compiled = compile(
            code, f"{page.name} block {number}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        )
        result = eval(compiled, namespace)  # noqa: S307 (our own documentation)
        if result is not None:
            await result


def test_every_guide_has_code_that_runs() -> None:
    """No page of guides without a Python block (a guide a test cannot break is prose)."""
    assert {p.name for p in PAGES if not blocks(p)} == set()


@pytest.mark.parametrize("page", [p for p in PAGES if "REDIS_URL" not in p.read_text()], ids=str)
async def test_the_guide_runs_as_written(page: Path) -> None:
    await run_page(page, {"__name__": "__docs__"})


@pytest.mark.parametrize("page", [p for p in PAGES if "REDIS_URL" in p.read_text()], ids=str)
async def test_the_guide_that_needs_redis_runs_as_written(page: Path, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("redis_support", REDIS_SUPPORT)
    assert spec is not None
    assert spec.loader is not None
    support = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("redis_support", support)  # dataclasses look their module up
    spec.loader.exec_module(support)
    server = support.start_redis(tmp_path)
    try:
        await run_page(page, {"__name__": "__docs__", "REDIS_URL": server.url})
    finally:
        server.stop()


def test_the_cli_reference_is_up_to_date() -> None:
    """docs/cli.md is what the parser prints: regenerate it with scripts/cli_reference.py."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "cli_reference.py"
    done = subprocess.run([sys.executable, str(script), "--check"], check=False)  # noqa: S603
    assert done.returncode == 0, "run: python scripts/cli_reference.py"
