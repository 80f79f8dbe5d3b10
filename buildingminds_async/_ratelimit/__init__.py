"""The rate gate: where every request of a bulk run waits its turn.

A run has two lanes, each a ``RateGate``: pushes and reads (status polls, batch lists,
reconcile look-ups), so that polls never spend the push budget and a 429 pauses only the
lane it hit. A gate is made of parts a reader can hold one at a time:

- ``_cooldown``: closed for everyone until a Retry-After (or a spent quota's reset);
- ``_pacer``: requests spaced evenly at a rate that can change (aiolimiter behind it);
- ``_discovery``: the rate nobody told (AIMD with memory, the token-bucket estimate of
  ``_bucket``, the fixed-window reading of a long Retry-After);
- ``_headers``: the rate the server states (IETF ``RateLimit``, ``X-RateLimit-*``, an API
  gateway's remaining-calls headers);
- ``_tuning``: every constant, frozen.
"""

from ._gate import RateGate, RateGateStatistics
from ._headers import Quota, read_quota
from ._tuning import TUNING, Tuning

__all__ = ["TUNING", "Quota", "RateGate", "RateGateStatistics", "Tuning", "read_quota"]
