"""The sandbox in process: the transport's fault translation, processing rules, knobs."""

from __future__ import annotations

import gc
import json
import time
import tracemalloc
import uuid
import warnings

import httpx2
import pytest
from sandbox_support import Api, FakeClock, address, building, site

from buildingminds_async.models import BatchStatus
from buildingminds_async.sandbox import Fault, Sandbox, SandboxConfig
from buildingminds_async.sandbox._state import STATUSES

# -- transport fault translation -------------------------------------------------------------


async def test_transport_reset_raises_after_storing(api: Api) -> None:
    """In process, a reset is httpx2.RemoteProtocolError and the batch is stored anyway."""
    api.sandbox.inject(Fault("reset"))
    with pytest.raises(httpx2.RemoteProtocolError):
        await api.push("address", [address("A1")])
    assert set(api.sandbox.ledger.stored("address")) == {"A1"}
    assert len(api.sandbox.ledger.batch_ids()) == 1


async def test_transport_slow_beyond_read_timeout(api: Api, clock: FakeClock) -> None:
    """A slow answer held past the read timeout is httpx2.ReadTimeout, waited on the fake clock."""
    api.sandbox.inject(Fault("slow", delay=30))
    await api.headers()
    with pytest.raises(httpx2.ReadTimeout):
        await api.push("address", [address("A1")], timeout=httpx2.Timeout(5.0, read=2.5))
    assert clock.slept == [2.5]
    assert len(api.sandbox.ledger.batch_ids()) == 1


async def test_transport_slow_within_read_timeout(api: Api, clock: FakeClock) -> None:
    """A slow answer shorter than the read timeout arrives after the delay."""
    api.sandbox.inject(Fault("slow", delay=3))
    await api.headers()
    response = await api.push("address", [address("A1")], timeout=10)
    assert response.status_code == 200
    assert clock.slept == [3]


async def test_transport_slow_with_real_sleep() -> None:
    """With the default sleep a slow fault trips a tiny real read timeout."""
    sandbox = Sandbox(faults=[Fault("slow", target="batch", delay=60)])
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        api = Api(http, sandbox, "http://127.0.0.1")
        started = time.monotonic()
        headers = await api.headers()
        with pytest.raises(httpx2.ReadTimeout):
            await http.get(f"{sandbox.base_url}/batch", headers=headers, timeout=0.01)
        assert time.monotonic() - started < 0.1


async def test_token_reset_issues_a_token_the_client_never_sees(api: Api) -> None:
    """A reset on the token endpoint happens after a token was issued."""
    api.sandbox.inject(Fault("reset", target="token"))
    with pytest.raises(httpx2.RemoteProtocolError):
        await api.headers()
    assert api.sandbox.ledger.tokens_issued == 1


# -- fault schedule -------------------------------------------------------------------------


async def test_fault_times(api: Api) -> None:
    """Fault(times=2) answers the next two pushes, then disarms itself."""
    api.sandbox.inject(Fault("502", times=2))
    codes = [(await api.push("address", [address()])).status_code for _ in range(3)]
    assert codes == [502, 502, 200]
    assert api.sandbox.faults == ()


async def test_fault_probability_is_seeded(clock: FakeClock) -> None:
    """Two sandboxes with the same fault seed fail the same pushes."""
    runs = []
    for _ in range(2):
        sandbox = Sandbox(clock=clock, faults=[Fault("503", probability=0.3, seed=42)])
        async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
            api = Api(http, sandbox, "http://127.0.0.1")
            runs.append([(await api.push("address", [address()])).status_code for _ in range(30)])
    assert runs[0] == runs[1]
    assert 3 <= runs[0].count(503) <= 18


async def test_fault_targets(api: Api) -> None:
    """A batch-target fault hits GET /batch, not pushes; "api" hits both."""
    api.sandbox.inject(Fault("504", target="batch"), Fault("500", target="api", at=(2,)))
    assert (await api.push("address", [address()])).status_code == 200
    assert (await api.get("/batch")).status_code == 504
    assert (await api.get("/batch")).status_code == 200


async def test_fault_429_has_retry_after(api: Api) -> None:
    """An injected 429 carries Retry-After (1 s unless configured)."""
    api.sandbox.inject(Fault("429"), Fault("503", retry_after=7))
    first = await api.push("address", [address()])
    assert (first.status_code, first.headers["retry-after"]) == (429, "1")
    second = await api.push("address", [address()])
    assert (second.status_code, second.headers["retry-after"]) == (503, "7")


def test_fault_validation() -> None:
    """A fault with an unknown kind or two triggers is refused with a clear message."""
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("418")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at most one of"):
        Fault("500", times=1, probability=0.5)
    with pytest.raises(ValueError, match="a fault needs a 'kind'"):
        Fault.from_json({"times": 1})
    assert Fault.from_json({"kind": "slow", "delay": 2}).delay == 2


# -- processing rules -----------------------------------------------------------------------


async def test_processing_faults_are_seeded(clock: FakeClock) -> None:
    """Failed / TransformationFailed / Retrying draws follow processing_seed."""
    outcomes = []
    for _ in range(2):
        sandbox = Sandbox(
            clock=clock,
            failed_probability=0.2,
            transformation_failed_probability=0.2,
            retrying_probability=0.5,
            processing_seed=7,
        )
        async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
            api = Api(http, sandbox, "http://127.0.0.1")
            batch_id = await api.push_ok("address", [address(f"A{i}") for i in range(40)])
            outcomes.append(await api.statuses(batch_id))
    assert outcomes[0] == outcomes[1]
    assert {"Completed", "Failed", "TransformationFailed"} <= set(outcomes[0])


async def test_retrying_is_visible(api: Api, clock: FakeClock) -> None:
    """With retrying_probability=1 a record shows Retrying, then InProgress, then Completed."""
    await api.push_ok("address", [address()])
    api.sandbox.configure(retrying_probability=1.0, processing_delay=4)
    batch_id = await api.push_ok("site", [site()])
    seen = []
    for _ in range(4):
        clock.advance(2)
        seen.append((await api.statuses(batch_id))[0])
    assert seen == ["InProgress", "Retrying", "InProgress", "Completed"]


async def test_any_of_entity_needs_a_parent(api: Api) -> None:
    """A rental unit that references no parent at all fails validation."""
    unit = {
        "rentalUnitId": "RU1",
        "name": "Unit",
        "validFrom": "2024-01-01T00:00:00Z",
        "validUntil": "2099-01-01T00:00:00Z",
    }
    batch_id = await api.push_ok(
        "rental-unit", [unit, {**unit, "rentalUnitId": "RU2", "siteIds": ["S1"]}]
    )
    messages = await api.inbound(batch_id)
    assert messages[0]["status"] == "FailedValidation"
    assert "at least one of" in messages[0]["errorMessage"]
    assert (messages[1]["status"], messages[1]["missingDependencies"]) == ("New", True)


async def test_event_type_of_another_entity(api: Api) -> None:
    """An eventType of another entity, or a Python field name, fails validation."""
    batch_id = await api.push_ok(
        "address",
        [address("A1", eventType="SiteAdded"), {"address_id": "A2", "city": "B", "country": "DE"}],
    )
    messages = await api.inbound(batch_id)
    assert [m["status"] for m in messages] == ["FailedValidation", "FailedValidation"]
    assert "eventType" in messages[0]["errorMessage"]
    assert "addressId" in messages[1]["errorMessage"]


async def test_chain_completes_in_one_observation(api: Api) -> None:
    """Children pushed before their parents all complete once the parents arrive (delay 0)."""
    floor = {
        "floorId": "F1",
        "buildingId": "B1",
        "name": "Ground",
        "validFrom": "2024-01-01T00:00:00Z",
        "validUntil": "2099-01-01T00:00:00Z",
    }
    children = [
        await api.push_ok("floor", [floor]),
        await api.push_ok("building", [building()]),
        await api.push_ok("site", [site()]),
    ]
    await api.push_ok("address", [address()])
    for batch_id in children:
        assert await api.statuses(batch_id) == ["Completed"]
    assert api.sandbox.ledger.status_counts() == {"Completed": 4}


async def test_lenient_enum_value_is_accepted_under_error_filter(api: Api) -> None:
    """An unknown value of a lenient enum is accepted even when warnings are errors."""
    record = building(primaryTypeOfBuilding="Spaceport")
    await api.push_ok("address", [address()])
    await api.push_ok("site", [site()])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batch_id = await api.push_ok("building", [record])
    assert await api.statuses(batch_id) == ["Completed"]


async def test_lenient_enum_value_is_not_reported_to_the_user(api: Api) -> None:
    """The models' UnknownEnumValueWarning is the server's business: none reaches the test."""
    await api.push_ok("address", [address()])
    await api.push_ok("site", [site()])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batch_id = await api.push_ok("building", [building(primaryTypeOfBuilding="Spaceport")])
    assert [w.category.__name__ for w in caught] == []
    assert await api.statuses(batch_id) == ["Completed"]


async def test_status_vocabulary_matches_the_models(api: Api) -> None:
    """The sandbox's statuses are exactly the SDK's BatchStatus values."""
    assert set(STATUSES) == {s.value for s in BatchStatus}


# -- knobs ----------------------------------------------------------------------------------


def test_configure_rejects_bad_knobs() -> None:
    """configure() names an unknown or invalid setting and changes nothing."""
    sandbox = Sandbox()
    with pytest.raises(ValueError, match="unknown sandbox setting"):
        sandbox.configure(rate=3)
    with pytest.raises(ValueError, match="burst must be at least 1"):
        sandbox.configure(rate_limit=3, burst=0)
    assert sandbox.config == SandboxConfig()
    with pytest.raises(ValueError, match="processing_delay"):
        Sandbox(processing_delay=-1)


def test_reset_restores_the_constructor_state() -> None:
    """reset() brings back the constructor's settings and faults and forgets all data."""
    sandbox = Sandbox(rate_limit=3, faults=[Fault("500")])
    sandbox.configure(rate_limit=9, faults=[])
    sandbox.reset()
    assert sandbox.config.rate_limit == 3
    assert sandbox.faults == (Fault("500"),)
    assert sandbox.ledger.counters == {}


def test_repr_and_urls() -> None:
    """The sandbox shows its knobs, never its secrets; in-process URLs are loopback."""
    sandbox = Sandbox(rate_limit=4)
    assert "rate=4/s" in repr(sandbox)
    assert sandbox.client_secret not in repr(sandbox)
    assert sandbox.base_url == "http://127.0.0.1/api/digitaltwinintegration"
    assert sandbox.token_url.endswith(f"/{sandbox.tenant}/oauth2/v2.0/token")


async def test_created_at_follows_the_clock(api: Api, clock: FakeClock) -> None:
    """createdAt derives from the epoch and the injected clock."""
    batch_id = await api.push_ok("address", [address()])
    clock.advance(3600)
    api.token = None  # expired meanwhile
    [batch] = (await api.get("/batch", batchId=batch_id)).json()["data"]
    assert batch["createdAt"] == "2026-01-01T00:00:00Z"
    assert batch["createdAtPrecise"] == "2026-01-01T00:00:00.000000Z"
    assert api.sandbox.ledger.batch(batch_id).created_at.year == 2026


async def test_throughput(api: Api) -> None:
    """Twenty thousand records are accepted and processed in under three seconds."""
    await api.push_ok("address", [address()])
    await api.push_ok("site", [site()])
    records = [building(f"B{i}") for i in range(1000)]
    started = time.perf_counter()
    batch_ids = [await api.push_ok("building", records) for _ in range(20)]
    assert api.sandbox.ledger.pending() == 0
    elapsed = time.perf_counter() - started
    assert api.sandbox.ledger.status_counts("building") == {"Completed": 20_000}
    assert len(batch_ids) == 20
    assert elapsed < 3.0, f"{elapsed:.2f} s for 20,000 records"


async def test_body_beyond_a_fast_parser_is_read_as_json_reads_it(api: Api) -> None:
    """Integers beyond 64 bits and UTF-16 text are JSON: accepted, stored as sent."""
    huge = 2**70
    record = address("A1", extensionData={"meterReading": huge})
    response = await api.http.post(
        f"{api.root}/api/digitaltwinintegration/address",
        content=json.dumps([record]).encode("utf-16"),
        headers={**await api.headers(), "content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert api.sandbox.ledger.stored("address")["A1"]["extensionData"] == {"meterReading": huge}


async def test_invalid_json_names_the_position(api: Api) -> None:
    """A body that is not JSON is a 400 that says where it broke."""
    response = await api.http.post(
        f"{api.root}/api/digitaltwinintegration/address",
        content=b'[{"addressId": "A1",]',
        headers={**await api.headers(), "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]
    assert "char 20" in response.json()["message"]


async def test_batch_ids_stay_unique_across_a_reset(api: Api) -> None:
    """Batch IDs look like UUIDs and a reset never hands one out again."""
    first = {await api.push_ok("address", [address(f"A{i}")]) for i in range(3)}
    api.sandbox.reset()
    api.token = None
    second = {await api.push_ok("address", [address(f"A{i}")]) for i in range(3)}
    assert len(first | second) == 6
    for batch_id in first | second:
        assert str(uuid.UUID(batch_id)) == batch_id
        assert uuid.UUID(batch_id).version == 4


async def test_gc_freezer_reclaims_the_data_a_reset_drops(api: Api) -> None:
    """The standalone server's GC freezer unfreezes and collects after a reset."""
    from buildingminds_async.sandbox._server import GcFreezer

    for chunk in range(3):
        await api.push_ok("address", [address(f"A{chunk}-{i}") for i in range(1000)])
    assert api.sandbox.ledger.pending() == 0
    freezer = GcFreezer(api.sandbox)
    try:
        freezer()
        frozen = gc.get_freeze_count()
        assert frozen > 3000  # the messages and records, at least
        api.sandbox.reset()
        freezer()
        assert gc.get_freeze_count() < frozen - 3000
    finally:
        gc.unfreeze()


async def test_pushing_the_same_records_again_keeps_no_copy_of_them(api: Api) -> None:
    """Once processed, a record lives in the store only: upserts do not pile up payloads.

    The same three ids pushed 300 times grow the sandbox by each batch's bookkeeping
    (about 1.3 KB here), under the pushed bytes (1.7 KB), not by every payload it was
    sent (about 4 KB when every record was kept).
    """
    records = [address(f"A{i}", additionalInformation="x" * 500) for i in range(3)]
    body_bytes = len(json.dumps(records))
    for _ in range(30):  # warm up: caches, pools, the store's three entries
        await api.push_ok("address", records)
    assert api.sandbox.ledger.pending() == 0
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(300):
            await api.push_ok("address", records)
        assert api.sandbox.ledger.pending() == 0
        kept = (tracemalloc.get_traced_memory()[0] - before) / 300
    finally:
        tracemalloc.stop()
    assert api.sandbox.ledger.stored("address")["A1"]["additionalInformation"] == "x" * 500
    assert kept < body_bytes, f"{kept:.0f} bytes kept per push of {body_bytes}"


async def test_status_counts_come_in_lifecycle_order(api: Api) -> None:
    """statusCounts lists statuses in the order of STATUSES, not in the order processing
    first reached them, so the same counts always read the same."""
    await api.push_ok("address", [address("A1")])  # Completed is reached first
    batch_id = await api.push_ok("address", [address("A2", country=7), address("A3")])
    listed = (await api.get("/batch", batchId=batch_id)).json()["data"][0]["statusCounts"]
    assert list(listed.items()) == [("FailedValidation", 1), ("Completed", 1)]
    ledger = api.sandbox.ledger
    assert list(ledger.status_counts(batch_id=batch_id)) == ["FailedValidation", "Completed"]
    assert list(ledger.status_counts("address").items()) == [
        ("FailedValidation", 1),
        ("Completed", 2),
    ]
    assert list(ledger.status_counts()) == ["FailedValidation", "Completed"]
