"""Entity pushes: what an accepted push answers, read tolerantly."""

from __future__ import annotations

from typing import NewType

import httpx2

from .._errors import APIResponseValidationError
from ..models import parse_batch_id

BatchId = NewType("BatchId", str)
"""The id the API returns for an accepted push; it names the batch of inbound messages."""


def read_batch_id(response: httpx2.Response) -> BatchId:
    """The Batch ID of an accepted push, from a tolerant reading of its body.

    Raises:
        APIResponseValidationError: no Batch ID in the body (the push may have been
            accepted all the same).
    """
    try:
        return BatchId(parse_batch_id(response.json()))
    except ValueError as exc:
        raise APIResponseValidationError.of(
            response,
            f"but no Batch ID could be read from its body ({exc}); the push may have been "
            f"accepted: check client.batches.list()",
        ) from exc
