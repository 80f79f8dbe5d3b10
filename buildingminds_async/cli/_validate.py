"""``buildingminds validate``: every check of ``onboard``, offline, and what the input as
a whole holds that a push would stumble on (parents it lacks, ids given twice)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ..onboarding._report import shown as escaped
from ._onboard import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from ._readers import STDIN_NAME, ReadPosition, plan_inputs, read_records
from ._records import NOTHING_TOLD, Checker, Rejected
from ._references import References
from ._rejects import RejectFile
from ._term import Term


def validate_command(args: argparse.Namespace, term: Term) -> int:
    inputs = plan_inputs(args.files, entity=args.entity, fmt=args.format)
    checker = Checker(args.entity)
    rejects = RejectFile(Path(args.rejects), resume=False) if args.rejects else None
    per_entity: dict[str, dict[str, int]] = {}
    errors: list[Rejected] = []
    records = invalid = 0
    position = ReadPosition(None)
    references = References()
    try:
        for raw in read_records(inputs, position):
            records += 1
            checked = checker.check(raw)
            if isinstance(checked, Rejected):
                invalid += 1
                counts = per_entity.setdefault(checked.entity or "unknown", _zero())
                counts["invalid"] += 1
                if rejects is not None:
                    rejects.write(checked)
                if len(errors) < args.max_errors:
                    errors.append(checked)
                    term.out(str(checked))
                continue
            per_entity.setdefault(checked[0].name, _zero())["valid"] += 1
            references.add(*checked, f"{raw.file}:{raw.line}")
    finally:
        if rejects is not None:
            rejects.close()
    missing = references.missing()
    duplicates = references.duplicates()
    summary = {
        "records": records,
        "valid": records - invalid,
        "invalid": invalid,
        "by_entity": per_entity,
        "missing_references": len(missing),
        "missing_references_first": [m.as_dict() for m in missing[:_MISSING_LISTED_JSON]],
        "duplicate_ids": len(duplicates),
        "duplicate_ids_first": [d.as_dict() for d in duplicates[:_MISSING_LISTED_JSON]],
        "errors": [e.as_dict() | {"record": None} for e in errors],
        "rejects": str(rejects.path) if rejects is not None and rejects.exists else None,
    }
    if term.json:
        print(json.dumps(summary), file=sys.stdout, flush=True)
    if invalid > len(errors):
        term.out(f"... and {invalid - len(errors):,} more invalid records")
    names = ", ".join(i.name for i in inputs) or STDIN_NAME
    term.out(f"{records:,} records in {names}: {records - invalid:,} valid, {invalid:,} invalid")
    if rejects is not None and rejects.exists:
        term.out(f"rejects: {rejects.path}")
    if missing:
        term.out(
            f"{len(missing):,} parent record(s) named by the input are not in it: unless "
            f"they are already on the platform, the records naming them will wait (blocked)"
        )
        _listed(term, missing)
    if duplicates:
        term.out(
            f"{len(duplicates):,} id(s) appear more than once: each record is sent, and the "
            f"platform keeps the one it processes last (it upserts by id)"
        )
        _listed(term, duplicates)
    term.summarise_warnings()
    if checker.nothing_told():
        term.error(NOTHING_TOLD)
        return EXIT_USAGE
    return EXIT_FAILED if invalid else EXIT_OK


_MISSING_LISTED = 10
_MISSING_LISTED_JSON = 100


def _listed(term: Term, items: Sequence[object]) -> None:
    for item in items[:_MISSING_LISTED]:
        term.out(f"  {escaped(str(item))}")
    if len(items) > _MISSING_LISTED:
        term.out(f"  ... and {len(items) - _MISSING_LISTED:,} more (--json lists 100)")


def _zero() -> dict[str, int]:
    return {"valid": 0, "invalid": 0}
