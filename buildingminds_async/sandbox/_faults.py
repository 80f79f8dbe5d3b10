"""Injected faults: what can go wrong, on which requests, and when.

A `Fault` is a value: its kind, the requests it targets and a trigger (the next N
requests, given request numbers, or a seeded probability). The sandbox arms each fault
when it is installed; from then on the fault counts the requests it targets, so
``Fault("reset", at=(3,))`` hits the third push after installation, whatever happened
before. Faults are drawn in installation order; the first one that fires answers the
request, and every armed fault still counts it.

Kinds:

- ``"500"``, ``"502"``, ``"503"``, ``"504"``: the request is answered with that status
  *before* anything is stored (nothing happened, a retry is safe);
- ``"429"``: answered 429 with ``Retry-After`` before anything is stored (a throttling
  storm that does not depend on the rate limiter);
- ``"reset"``: the request is handled (a push *is stored* and gets its Batch ID), then
  the connection breaks before the client reads the answer: the ambiguous case;
- ``"slow"``: the request is handled, then the answer is held for ``delay`` seconds, so
  a client with a shorter read timeout gives up on a push that was stored.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

__all__ = ["Fault", "FaultKind", "FaultTarget"]

FaultKind = Literal["500", "502", "503", "504", "429", "reset", "slow"]
FaultTarget = Literal["push", "batch", "api", "token"]

FAULT_KINDS: Final[frozenset[str]] = frozenset(get_args(FaultKind))
FAULT_TARGETS: Final[frozenset[str]] = frozenset(get_args(FaultTarget))
STATUS_FAULTS: Final[frozenset[str]] = frozenset({"500", "502", "503", "504", "429"})

# Longer than any sensible client read timeout (httpx defaults to 5 s, the SDK to 60 s),
# so an unconfigured slow fault always trips the client.
DEFAULT_SLOW_DELAY: Final = 90.0


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault and when it fires.

    Give at most one trigger: ``times`` (the next N targeted requests; the default is
    the next one), ``at`` (request numbers, 1 = the first targeted request after the
    fault is installed) or ``probability`` (each targeted request, drawn from a
    ``random.Random(seed)`` of its own, so a run is reproducible).

    ``target`` picks the requests: ``"push"`` (entity POSTs, the default), ``"batch"``
    (the two batch GET endpoints), ``"api"`` (both) or ``"token"`` (the token
    endpoint). ``retry_after`` is the ``Retry-After`` header (seconds) sent with a 429
    (default 1) or a 503 (default none). ``delay`` is how long a ``"slow"`` answer is
    held.
    """

    kind: FaultKind
    target: FaultTarget = "push"
    times: int | None = None
    at: tuple[int, ...] = ()
    probability: float | None = None
    seed: int = 0
    retry_after: int | None = None
    delay: float = DEFAULT_SLOW_DELAY

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(
                f"unknown fault kind {self.kind!r}: use one of {', '.join(sorted(FAULT_KINDS))}"
            )
        if self.target not in FAULT_TARGETS:
            raise ValueError(
                f"unknown fault target {self.target!r}: "
                f"use one of {', '.join(sorted(FAULT_TARGETS))}"
            )
        at: Any = self.at  # any iterable of ints is accepted
        object.__setattr__(self, "at", tuple(at))
        triggers = (self.times is not None) + bool(self.at) + (self.probability is not None)
        if triggers > 1:
            raise ValueError("give at most one of times=, at= and probability= for a fault")
        if self.times is not None and self.times < 1:
            raise ValueError(f"fault times must be at least 1, got {self.times}")
        if any(not isinstance(k, int) or k < 1 for k in self.at):
            raise ValueError(f"fault at= holds request numbers from 1, got {self.at}")
        if self.probability is not None and not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"fault probability must be within [0, 1], got {self.probability}")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError(f"fault retry_after must not be negative, got {self.retry_after}")
        if self.delay < 0:
            raise ValueError(f"fault delay must not be negative, got {self.delay}")

    def to_json(self) -> dict[str, Any]:
        """The fault as a JSON object (the shape ``POST /_sandbox/faults`` accepts)."""
        out: dict[str, Any] = {"kind": self.kind, "target": self.target}
        if self.times is not None:
            out["times"] = self.times
        if self.at:
            out["at"] = list(self.at)
        if self.probability is not None:
            out["probability"] = self.probability
            out["seed"] = self.seed
        if self.retry_after is not None:
            out["retryAfter"] = self.retry_after
        if self.kind == "slow":
            out["delay"] = self.delay
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        """A fault from its JSON object; raises ValueError naming the bad key."""
        known = {"kind", "target", "times", "at", "probability", "seed", "retryAfter", "delay"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault keys: {', '.join(sorted(unknown))}")
        try:
            return cls(
                kind=str(data["kind"]),  # type: ignore[arg-type]
                target=str(data.get("target", "push")),  # type: ignore[arg-type]
                times=_opt_int(data.get("times")),
                at=tuple(int(k) for k in data.get("at") or ()),
                probability=_opt_float(data.get("probability")),
                seed=int(data.get("seed", 0)),
                retry_after=_opt_int(data.get("retryAfter")),
                delay=float(data.get("delay", DEFAULT_SLOW_DELAY)),
            )
        except KeyError:
            raise ValueError("a fault needs a 'kind'") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"invalid fault {dict(data)!r}: {exc}") from None


def _opt_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected an integer, got {value!r}")
    return int(value)


def _opt_float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _targets(fault_target: str, request_target: str) -> bool:
    if fault_target == "api":
        return request_target in ("push", "batch")
    return fault_target == request_target


@dataclass(slots=True)
class ArmedFault:
    """A fault installed in a sandbox, with the requests it has seen so far."""

    fault: Fault
    seen: int = 0
    fired: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.fault.seed)

    def exhausted(self) -> bool:
        fault = self.fault
        if fault.at:
            return self.seen >= max(fault.at)
        if fault.probability is not None:
            return False
        return self.fired >= (fault.times or 1)

    def observe(self) -> bool:
        """Count one targeted request; True when the fault fires on it."""
        self.seen += 1
        fault = self.fault
        if fault.at:
            fires = self.seen in fault.at
        elif fault.probability is not None:
            fires = self.rng.random() < fault.probability
        else:
            fires = self.fired < (fault.times or 1)
        return fires


class FaultSchedule:
    """The armed faults of one sandbox, drawn in installation order (not thread-safe)."""

    __slots__ = ("_armed",)

    def __init__(self) -> None:
        self._armed: list[ArmedFault] = []

    def __bool__(self) -> bool:
        """Whether any fault is armed."""
        return bool(self._armed)

    def install(self, faults: tuple[Fault, ...]) -> None:
        self._armed.extend(ArmedFault(f) for f in faults)

    def clear(self) -> None:
        self._armed.clear()

    def active(self) -> tuple[Fault, ...]:
        return tuple(a.fault for a in self._armed)

    def draw(self, target: str) -> Fault | None:
        """The fault answering this request, if any; every armed fault counts it."""
        if not self._armed:
            return None
        chosen: ArmedFault | None = None
        for armed in self._armed:
            if not _targets(armed.fault.target, target):
                continue
            if armed.observe() and chosen is None:
                chosen = armed
        if chosen is not None:
            chosen.fired += 1
        self._armed = [a for a in self._armed if not a.exhausted()]
        return None if chosen is None else chosen.fault
