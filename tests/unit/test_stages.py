"""Each stage of the onboarding pipeline alone: queue, window, matching, tally, pusher, intake.

No network: the pusher talks to a scripted stand-in of the client, on the loop's fake
clock (looptime), so back-offs and Retry-After pauses take no real time.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import anyio
import anyio.lowlevel
import httpx2
import pytest

from buildingminds_async import APIConnectionError, ConfigurationError
from buildingminds_async._errors import status_error
from buildingminds_async._ratelimit import RateGate
from buildingminds_async.models import Batch, BatchResult, InboundMessage
from buildingminds_async.onboarding import SourceRecord, read_in_thread
from buildingminds_async.onboarding._chunking import Chunk, Chunker, RecordRef
from buildingminds_async.onboarding._intake import Intake
from buildingminds_async.onboarding._options import Settings
from buildingminds_async.onboarding._push import Pusher, Window
from buildingminds_async.onboarding._queue import ChunkQueue
from buildingminds_async.onboarding._run_journal import NullJournal
from buildingminds_async.onboarding._settle import match
from buildingminds_async.onboarding._sizing import ChunkSizer
from buildingminds_async.onboarding._summary import verdict
from buildingminds_async.onboarding._tally import GateView, Tally

pytestmark = pytest.mark.looptime

URL = "https://api.test.example/api/building"


def chunk(seq: int, ids: list[str], *, level: int = 2, entity: str = "building") -> Chunk:
    parts = [json.dumps({"buildingId": i}).encode() for i in ids]
    refs = [RecordRef(n, i) for n, i in enumerate(ids)]
    made = Chunk(seq, entity, level, refs, parts)
    made.size = 2 + sum(len(p) for p in parts) + len(parts) - 1
    return made


def message(external_id: str | None, status: str, index: int | None = None) -> InboundMessage:
    data: dict[str, Any] = {"status": status}
    if external_id is not None:
        data["externalId"] = external_id
    if index is not None:
        data["index"] = index
    return InboundMessage.model_validate(data)


def make_tally(clock: Callable[[], float] = lambda: 0.0, **kwargs: Any) -> Tally:
    gate = GateView(rate=lambda: None, throttled=lambda: 0, cooldown_total=lambda: 0.0)
    return Tally(clock=clock, gate=gate, open_batches=lambda: 0, **kwargs)


# ------------------------------------------------------------------------------ queue


async def test_the_queue_hands_out_parents_first_then_in_order() -> None:
    """Lower entity levels come out first; within a level, the order the chunks were cut."""
    queue = ChunkQueue(10)
    for seq, level in [(1, 2), (2, 0), (3, 2), (4, 1)]:
        await queue.put(chunk(seq, ["x"], level=level))
    queue.close()
    out = []
    while (taken := await queue.get()) is not None:
        out.append(taken.seq)
    assert out == [2, 4, 1, 3]


async def test_a_full_queue_makes_the_producer_wait() -> None:
    """put() waits while the queue holds its capacity, and goes on once a chunk is taken."""
    queue = ChunkQueue(1)
    await queue.put(chunk(1, ["a"]))
    second = chunk(2, ["b"])
    with anyio.move_on_after(0.01) as waited:
        await queue.put(second)
    assert waited.cancelled_caught
    assert len(queue) == 1
    async with anyio.create_task_group() as tg:
        tg.start_soon(queue.put, second)
        await anyio.lowlevel.checkpoint()
        first = await queue.get()
    assert first is not None
    assert first.seq == 1
    assert [c.seq for c in queue.drain()] == [2]


# ----------------------------------------------------------------------------- window


async def test_the_window_waits_while_too_many_records_await_a_status() -> None:
    """A pusher waits at the pending window until a settled batch makes room."""
    awaiting = [10]
    window = Window(
        max_pending=10, strict_order=False, awaiting=lambda: awaiting[0], open_levels=list
    )
    admitted = anyio.Event()

    async def push() -> None:
        async with window.admit(chunk(1, ["a"])):
            admitted.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(push)
        await anyio.sleep(0.01)
        assert not admitted.is_set()
        awaiting[0] = 9
        window.changed()
        await admitted.wait()


async def test_strict_order_holds_children_while_a_parent_is_open() -> None:
    """In strict order a child chunk waits while a batch of a lower level is still open."""
    open_levels = [0]
    window = Window(
        max_pending=None, strict_order=True, awaiting=lambda: 0, open_levels=lambda: open_levels
    )
    with anyio.move_on_after(0.01) as waited:
        async with window.admit(chunk(1, ["a"], level=2)):
            pass
    assert waited.cancelled_caught
    async with window.admit(chunk(2, ["b"], level=0)):  # a sibling of the open batch
        pass
    open_levels.clear()
    async with window.admit(chunk(3, ["c"], level=2)):
        pass


# --------------------------------------------------------------------------- matching


def test_messages_match_by_index_then_by_external_id() -> None:
    """Each record gets its own message: by index when it agrees, else by external id."""
    pushed = chunk(1, ["A", "B", "A"])
    result = BatchResult(
        "batch-1",
        (
            message("B", "Completed", index=1),
            message("A", "FailedValidation", index=7),  # index out of range: by id
            message("A", "Completed"),  # no index: by id
        ),
        3,
    )
    statuses = {i: m.status for i, m in match(pushed, result).items()}
    assert statuses == {0: "FailedValidation", 1: "Completed", 2: "Completed"}


def test_a_message_naming_another_record_is_not_taken_by_its_index() -> None:
    """A message whose index points at a record with another id is placed by its id."""
    pushed = chunk(1, ["A", "B"])
    result = BatchResult("b", (message("B", "Completed", index=0),), 2)
    assert {i: m.external_id for i, m in match(pushed, result).items()} == {1: "B"}
    assert match(pushed, None) == {}


# ------------------------------------------------------------------------------ tally


@pytest.mark.parametrize(
    ("fields", "expected", "said"),
    [
        ({"statusCounts": {"Completed": 8, "Published": 2}}, 10, "completed"),
        ({"statusCounts": {"Completed": 9}}, 10, "open"),  # a message not created yet
        ({"statusCounts": {"Completed": 9, "InProgress": 1}}, 10, "open"),
        ({"statusCounts": {"New": 10}, "missingDependencies": 10}, 10, "open"),
        ({"statusCounts": {"Completed": 9, "FailedValidation": 1}}, 10, "read"),
        ({"statusCounts": {"Completed": 9, "SomethingNew": 1}}, 10, "open"),  # unknown: pending
        ({"statusCounts": {}}, 10, "open"),
        ({}, 10, "unknown"),  # a server whose batch objects have no counts
    ],
)
def test_a_batch_summary_settles_only_what_its_counts_prove(
    fields: dict[str, Any], expected: int, said: str
) -> None:
    summary = Batch.model_validate({"batchId": "b-1", **fields})
    assert verdict(summary, expected) == said


def test_the_tally_derives_pending_and_the_report_adds_up() -> None:
    """pending is what was accepted or not sent, less what is final; counts add to input."""
    failures = []
    tally = make_tally(on_failure=failures.append)
    tally.read = 12
    tally.record_invalid(RecordRef(0, "X"), "building", "bad", field="name", record={})
    accepted = chunk(1, ["A", "B", "C", "D", "E"])
    tally.record_accepted(accepted, "batch-1")
    tally.record_rejected(chunk(2, ["F", "G"]), "Rejected", "400 no")
    tally.record_not_sent(4)
    assert tally.pending == 5 + 4
    tally.fail(accepted.refs[0], "building", "FailedValidation", "why", batch_id="batch-1")
    tally.record_settled(completed=3, failed=1)
    assert tally.awaiting == 1
    report = tally.report({"completed": 10, "failed": 0, "invalid": 2})
    assert (report.completed, report.failed, report.invalid, report.pending) == (13, 3, 3, 5)
    assert report.submitted == report.completed + report.failed + report.pending
    assert report.total == 12 + 10 + 2  # this run's reads and the earlier run's records
    assert len(failures) == 1 + 2 + 1 == len(report.failures)
    assert report.batch_ids == ("batch-1",)


# ---------------------------------------------------------------------------- options


def test_an_unknown_option_is_refused_with_a_suggestion() -> None:
    """A misspelt onboard() option is a ConfigurationError naming the right one."""
    with pytest.raises(ConfigurationError, match="'chunksize'; did you mean 'chunk_size'"):
        Settings.of({"chunksize": 10})


@pytest.mark.parametrize(
    "options",
    [
        {"concurrency": 0},
        {"chunk_size": 0},
        {"timeout": float("nan")},
        {"rate": -1.0},
        {"read_rate": 0.0},
        {"max_retries": -1},
        {"strict_order": True, "wait": False},
        {"entity": "castle"},
    ],
)
def test_options_that_cannot_work_are_refused(options: dict[str, Any]) -> None:
    """Values that cannot work are refused before anything runs."""
    with pytest.raises(ConfigurationError):
        Settings.of(options)


# ----------------------------------------------------------------------------- pusher


class ScriptedClient:
    """Stands in for AsyncClient.request: answers each push from a script."""

    def __init__(self, *answers: int | Exception | str) -> None:
        self.answers = list(answers)
        self.sent: list[int] = []

    async def request(self, method: str, path: str, *, content: bytes) -> httpx2.Response:
        self.sent.append(len(json.loads(content)))
        answer = self.answers.pop(0) if self.answers else 200
        request = httpx2.Request(method, URL)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, str):
            return httpx2.Response(200, request=request, content=answer.encode())
        if answer >= 400:
            raise status_error(
                httpx2.Response(answer, request=request, headers={"Retry-After": "1"}),
                retry_after=1.0 if answer == 429 else None,
            )
        body = {"batchId": f"batch-{len(self.sent)}"}
        return httpx2.Response(answer, request=request, json=body)


class FoundOnServer:
    """Stands in for the reconciler: the server has (or has not) the lost batch."""

    def __init__(self, found: str | None) -> None:
        self.found = found
        self.asked: list[Chunk] = []

    async def find(self, chunk: Chunk, sent_at: datetime) -> str | None:
        self.asked.append(chunk)
        return self.found


def lost_answer() -> APIConnectionError:
    return APIConnectionError("reset", method="POST", url=URL, maybe_sent=True)


async def push_one(
    client: ScriptedClient, reconciler: FoundOnServer | None = None, *, records: int = 4
) -> tuple[Tally, dict[str, Chunk], ChunkQueue, Chunker]:
    loop = asyncio.get_running_loop()
    tally = make_tally(loop.time)
    queue = ChunkQueue(8)
    chunker = Chunker(max_records=100, max_bytes=1 << 20)
    accepted: dict[str, Chunk] = {}

    def accept(chunk: Chunk, batch_id: str) -> None:
        tally.record_accepted(chunk, batch_id)
        accepted[batch_id] = chunk

    pusher = Pusher(
        client=client,  # type: ignore[arg-type]
        gate=RateGate(max_in_flight=2, clock=loop.time, sleep=asyncio.sleep),
        queue=queue,
        chunker=chunker,
        sizer=ChunkSizer(
            chunker,
            auto=False,
            size=100,
            ceiling=100,
            concurrency=1,
            pending_window=None,
            rate=lambda: None,
            clock=loop.time,
        ),
        window=Window(max_pending=None, strict_order=False, awaiting=lambda: 0, open_levels=list),
        tally=tally,
        journal=NullJournal(),
        reconciler=reconciler or FoundOnServer(None),  # type: ignore[arg-type]
        accepted=accept,
        max_retries=3,
        sleep=asyncio.sleep,
        clock=loop.time,
    )
    await queue.put(chunk(chunker.next_seq(), [f"B{i}" for i in range(records)]))
    queue.close()
    await pusher.run()
    return tally, accepted, queue, chunker


async def test_a_413_splits_the_chunk_and_lowers_the_limit() -> None:
    """A 413 sends the chunk again as two halves and caps later chunks at half its size."""
    client = ScriptedClient(413)
    tally, accepted, _, chunker = await push_one(client)
    assert client.sent == [4, 2, 2]
    assert tally.splits == 1
    assert sorted(len(c) for c in accepted.values()) == [2, 2]
    assert chunker.max_records == 2


async def test_a_lost_answer_found_on_the_server_is_not_sent_again() -> None:
    """A push whose answer was lost but whose batch the server has is accepted as that batch."""
    client = ScriptedClient(lost_answer())
    reconciler = FoundOnServer("batch-stored")
    tally, accepted, _, _ = await push_one(client, reconciler)
    assert client.sent == [4]
    assert list(accepted) == ["batch-stored"]
    assert tally.resent == 0
    assert len(reconciler.asked) == 1


async def test_a_lost_answer_not_found_is_sent_again_and_counted() -> None:
    """A lost push the server does not have is retried, and counted as re-sent."""
    client = ScriptedClient(lost_answer())
    tally, accepted, _, _ = await push_one(client)
    assert client.sent == [4, 4]
    assert tally.resent == 1
    assert tally.resent_because == {"connection lost": 1}
    assert tally.retries == 1
    assert list(accepted) == ["batch-2"]


async def test_a_4xx_rejects_the_records_and_the_run_goes_on() -> None:
    """A 400 fails every record of the chunk with the server's status; nothing is retried."""
    client = ScriptedClient(400)
    tally, accepted, _, _ = await push_one(client)
    assert client.sent == [4]
    assert accepted == {}
    assert tally.failed == tally.rejected == 4
    assert tally.pending == 0
    assert {f.status for f in tally.failures} == {"Rejected"}
    assert [f.external_id for f in tally.failures] == ["B0", "B1", "B2", "B3"]


async def test_a_429_waits_for_retry_after_and_sends_again() -> None:
    """A 429 pauses for its Retry-After, then the same chunk goes again (a retry, no doubt)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    client = ScriptedClient(429)
    tally, accepted, _, _ = await push_one(client)
    assert client.sent == [4, 4]
    assert list(accepted) == ["batch-2"]
    assert tally.retries == 1
    assert tally.resent == 0
    assert loop.time() - started == pytest.approx(1.0, abs=0.05)


async def test_a_service_that_keeps_failing_leaves_the_chunk_pending() -> None:
    """After three rounds of max_retries 5xx the chunk is not sent again; its records are
    pending."""
    client = ScriptedClient(*[503] * 12)
    tally, accepted, _, _ = await push_one(client)
    assert client.sent == [4] * 12
    assert accepted == {}
    assert tally.not_sent == 4
    assert tally.pending == 4
    assert tally.retries == 9


async def test_a_chunk_whose_attempts_are_spent_gets_another_round_later() -> None:
    """A service down for the four attempts of a chunk, then back: the chunk goes back in
    the queue and is accepted in its second round; nothing is left unsent."""
    client = ScriptedClient(503, 503, 503, 503)
    tally, accepted, _, _ = await push_one(client)
    assert client.sent == [4] * 5
    assert list(accepted) == ["batch-5"]
    assert tally.not_sent == 0


async def test_an_accepted_push_without_a_batch_id_is_looked_up() -> None:
    """A 2xx whose body names no batch is looked for; not found, its records are Unreadable."""
    client = ScriptedClient("{}")
    tally, accepted, _, _ = await push_one(client)
    assert accepted == {}
    assert {f.status for f in tally.failures} == {"Unreadable"}


# ----------------------------------------------------------------------------- intake


async def test_the_intake_chunks_valid_records_and_reports_invalid_ones() -> None:
    """Valid records are cut into chunks per entity; an invalid one is reported with its line."""
    tally = make_tally()
    queue = ChunkQueue(8)
    intake = Intake(
        entity=None,
        chunker=Chunker(max_records=2, max_bytes=1 << 20),
        queue=queue,
        tally=tally,
        journal=NullJournal(),
    )
    good = {
        "eventType": "AddressAdded",
        "addressId": "A",
        "city": "Berlin",
        "country": "DE",
        "postalCode": "1",
    }
    source = [
        SourceRecord(good, file="a.ndjson", line=1),
        SourceRecord({**good, "addressId": "B"}, file="a.ndjson", line=2),
        SourceRecord({**good, "addressId": "C"}, file="a.ndjson", line=3),
        SourceRecord({"eventType": "CastleAdded"}, file="a.ndjson", line=4),
    ]
    await intake.run(iter(source))
    chunks = []
    while (taken := await queue.get()) is not None:
        chunks.append([ref.external_id for ref in taken.refs])
    assert chunks == [["A", "B"], ["C"]]
    assert tally.read == 4
    assert tally.invalid == 1
    assert str(tally.failures[0]).startswith("a.ndjson:4: record Invalid: eventType 'CastleAdded'")


async def test_reading_in_a_thread_yields_every_record_then_the_error() -> None:
    """A blocking source read in a thread gives every record before the error it hit."""
    threads: set[int] = set()

    def rows() -> Iterator[int]:
        for i in range(600):
            threads.add(threading.get_ident())
            yield i
        raise ValueError("truncated")

    seen: list[int] = []

    async def read_all() -> None:
        async for row in read_in_thread(rows(), block=256):
            seen.append(row)

    with pytest.raises(ValueError, match="truncated"):
        await read_all()
    assert seen == list(range(600))
    assert threading.get_ident() not in threads


async def test_closing_a_thread_reader_closes_its_source() -> None:
    """aclose() runs the source generator's finally (a file reader closes its file)."""
    closed = []

    def rows() -> Iterator[int]:
        try:
            yield from range(10_000)
        finally:
            closed.append(True)

    reader = read_in_thread(rows(), block=10)
    assert await reader.__anext__() == 0
    await reader.aclose()
    assert closed == [True]
