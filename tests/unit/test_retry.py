"""Retry-After parsing, back-off delays, the run-wide retry budget and what is retryable."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

import httpx2
import pytest

from buildingminds_async import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    CredentialsError,
)
from buildingminds_async._errors import status_error
from buildingminds_async._retry import RetryBudget, RetryPolicy, is_retryable, parse_retry_after

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def now() -> datetime:
    return NOW


def headers(**values: str) -> httpx2.Headers:
    return httpx2.Headers({name.replace("_", "-"): value for name, value in values.items()})


def status(code: int, *, retry_after: float | None = None) -> Exception:
    request = httpx2.Request("POST", "https://api.test.example/building")
    return status_error(httpx2.Response(code, request=request), retry_after=retry_after)


def connection_error(*, timeout: bool = False) -> APIConnectionError:
    cls = APITimeoutError if timeout else APIConnectionError
    return cls("boom", method="POST", url="https://api.test.example/building", maybe_sent=False)


def identity(wait: float) -> float:
    return wait


# --------------------------------------------------------------------- parse_retry_after


@pytest.mark.parametrize(
    ("value", "expected"),
    [("120", 120.0), ("0", 0.0), ("1.5", 1.5), (" 3 ", 3.0), ("0.25", 0.25)],
)
def test_retry_after_in_seconds(value: str, expected: float) -> None:
    """Retry-After given in seconds, fractions and padding included, is read as seconds."""
    assert parse_retry_after(headers(retry_after=value)) == expected


def test_retry_after_ms_wins_over_retry_after() -> None:
    """retry-after-ms takes precedence over Retry-After and is converted to seconds."""
    assert parse_retry_after(headers(retry_after="10", retry_after_ms="250")) == 0.25


def test_unreadable_retry_after_ms_falls_back_to_retry_after() -> None:
    """A garbage retry-after-ms is ignored in favour of a readable Retry-After."""
    assert parse_retry_after(headers(retry_after="4", retry_after_ms="soon")) == 4.0


def test_retry_after_http_date_in_the_future() -> None:
    """An HTTP date is the number of seconds from the injected now until that date."""
    value = headers(retry_after="Sun, 01 Mar 2026 12:00:30 GMT")
    assert parse_retry_after(value, now=now) == 30.0


def test_retry_after_http_date_in_the_past_means_now() -> None:
    """An HTTP date already past means no wait at all."""
    value = headers(retry_after="Sun, 01 Mar 2026 11:59:00 GMT")
    assert parse_retry_after(value, now=now) == 0.0


@pytest.mark.parametrize("value", ["soon", "", "12 seconds", "nan", "inf", "Mon, 99 Foo"])
def test_unreadable_retry_after_is_no_hint(value: str) -> None:
    """A Retry-After that is neither seconds nor an HTTP date gives no hint (None)."""
    assert parse_retry_after(headers(retry_after=value), now=now) is None


def test_no_retry_after_is_no_hint() -> None:
    """Without either header there is no hint."""
    assert parse_retry_after(httpx2.Headers({"content-type": "application/json"})) is None


@pytest.mark.parametrize("name", ["retry_after", "retry_after_ms"])
def test_negative_retry_after_means_no_wait(name: str) -> None:
    """A negative value is clamped to zero rather than producing a negative wait."""
    assert parse_retry_after(headers(**{name: "-5"})) == 0.0


# ---------------------------------------------------------------------------- RetryPolicy


def test_delays_double_from_half_a_second_up_to_max_delay() -> None:
    """Without jitter the waits are 0.5, 1, 2, 4, ... and stay at max_delay once reached."""
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0, jitter=identity)
    assert list(itertools.islice(policy.delays(), 7)) == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]


def test_default_delays_use_full_jitter_within_the_exponential_cap() -> None:
    """With full jitter each wait lies in [0, min(max_delay, 0.5 * 2**n)] and is spread out."""
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0)
    caps = [min(8.0, 0.5 * 2**n) for n in range(10)]
    samples = [list(itertools.islice(policy.delays(), 10)) for _ in range(50)]
    for waits in samples:
        assert all(0.0 <= wait <= cap for wait, cap in zip(waits, caps, strict=True))
    # Full jitter, not "equal jitter" or none: the waits are spread over the whole range.
    firsts = [waits[-1] for waits in samples]
    assert min(firsts) < 2.0
    assert max(firsts) > 6.0


def test_delay_for_prefers_the_server_hint() -> None:
    """A Retry-After on the error replaces the computed back-off, larger or smaller."""
    policy = RetryPolicy()
    assert policy.delay_for(status(429, retry_after=7.0), computed=0.3) == 7.0
    assert policy.delay_for(status(503, retry_after=0.0), computed=5.0) == 0.0


def test_delay_for_caps_the_server_hint() -> None:
    """A Retry-After above max_retry_after is capped to it."""
    policy = RetryPolicy(max_retry_after=60.0)
    assert policy.delay_for(status(429, retry_after=3600.0), computed=1.0) == 60.0


def test_delay_for_without_hint_uses_the_computed_delay() -> None:
    """Without a hint (or for a network error) the computed back-off is used."""
    policy = RetryPolicy()
    assert policy.delay_for(status(503), computed=1.25) == 1.25
    assert policy.delay_for(connection_error(), computed=0.75) == 0.75


@pytest.mark.parametrize(
    "options",
    [{"max_attempts": 0}, {"base_delay": -1.0}, {"max_delay": -1.0}, {"max_retry_after": -1.0}],
)
def test_policy_rejects_impossible_settings(options: dict[str, float]) -> None:
    """Fewer than one attempt or a negative delay is refused at construction."""
    with pytest.raises(ValueError, match="must"):
        RetryPolicy(**options)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- RetryBudget


def test_budget_spends_until_too_little_is_left() -> None:
    """Each retry takes retry_cost; when too little is left nothing is taken and it says no."""
    budget = RetryBudget(capacity=12.0, retry_cost=5.0)
    error = status(503)
    assert budget.try_spend(error)
    assert budget.try_spend(error)
    assert not budget.try_spend(error)
    assert budget.available == 2.0
    assert budget.spent == 10.0
    assert budget.exhausted


def test_timeouts_cost_more_than_other_errors() -> None:
    """A retry after a timeout costs timeout_cost, which ties the server up longer."""
    budget = RetryBudget(capacity=100.0, retry_cost=5.0, timeout_cost=10.0)
    assert budget.try_spend(connection_error(timeout=True))
    assert budget.available == 90.0
    assert budget.try_spend(connection_error())
    assert budget.available == 85.0


def test_refund_earns_back_up_to_capacity() -> None:
    """A success refunds success_refund, never beyond the capacity."""
    budget = RetryBudget(capacity=10.0, retry_cost=5.0, success_refund=1.0)
    budget.refund()
    assert budget.available == 10.0
    assert budget.try_spend(status(500))
    assert budget.try_spend(status(500))
    assert budget.exhausted
    budget.refund()
    assert budget.available == 1.0
    for _ in range(20):
        budget.refund()
    assert budget.available == 10.0
    assert not budget.exhausted


def test_default_budget_allows_about_a_hundred_retries() -> None:
    """With the defaults a dead service stops a run after about a hundred retries."""
    budget = RetryBudget()
    allowed = 0
    while budget.try_spend(status(503)) and allowed < 10_000:
        allowed += 1
    assert allowed == 100
    assert budget.exhausted


# ---------------------------------------------------------------------------- is_retryable


@pytest.mark.parametrize(
    ("code", "retryable"),
    [
        (408, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (405, False),
        (409, False),
        (413, False),
        (501, False),
    ],
)
def test_retryable_statuses(code: int, retryable: bool) -> None:
    """408, 429 and 5xx except 501 are retried; other statuses are not."""
    assert is_retryable(status(code)) is retryable


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (connection_error(), True),
        (connection_error(timeout=True), True),
        (APIResponseValidationError("no batch id", method="POST", url="u"), False),
        (CredentialsError("refused", slot="primary"), False),
        (ConfigurationError("bad url"), False),
        (ValueError("not ours"), False),
        (asyncio.CancelledError(), False),
    ],
)
def test_retryable_errors(error: BaseException, retryable: bool) -> None:
    """Connection errors and timeouts are retried; credentials, bad bodies, cancellation not."""
    assert is_retryable(error) is retryable


async def test_retry_call_retries_what_is_retryable_then_returns() -> None:
    """retry_call repeats a retryable failure with the policy's delays and returns the result."""
    from buildingminds_async._retry import RetryPolicy, retry_call

    slept: list[float] = []
    told: list[int] = []
    outcomes: list[Exception | str] = [status(503), status(502), "ok"]

    async def call() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def sleep(delay: float) -> None:
        slept.append(delay)

    policy = RetryPolicy(max_attempts=3, base_delay=1.0, jitter=lambda d: d)
    result = await retry_call(
        call, policy=policy, sleep=sleep, on_retry=lambda exc, n, d: told.append(n)
    )
    assert result == "ok"
    assert slept == [1.0, 2.0]
    assert told == [1, 2]


async def test_retry_call_gives_up_and_stops_on_an_empty_budget() -> None:
    """The last error surfaces after max_attempts; an empty budget stops retrying at once."""
    from buildingminds_async._retry import (
        RetryBudget,
        RetryBudgetSpentError,
        RetryPolicy,
        retry_call,
    )

    calls = 0

    async def failing() -> None:
        nonlocal calls
        calls += 1
        raise status(503)

    async def sleep(delay: float) -> None:
        return None

    with pytest.raises(APIStatusError):
        await retry_call(failing, policy=RetryPolicy(max_attempts=2), sleep=sleep)
    assert calls == 2
    calls = 0
    budget = RetryBudget(capacity=5.0)
    with pytest.raises(RetryBudgetSpentError) as caught:
        await retry_call(failing, policy=RetryPolicy(max_attempts=9), sleep=sleep, budget=budget)
    assert calls == 2  # one retry paid for, the second refused
    assert isinstance(caught.value.__cause__, APIStatusError)
    calls = 0

    async def bad_request() -> None:
        nonlocal calls
        calls += 1
        raise status(400)

    with pytest.raises(APIStatusError):  # 400 is not retryable
        await retry_call(bad_request, policy=RetryPolicy(), sleep=sleep)
    assert calls == 1
