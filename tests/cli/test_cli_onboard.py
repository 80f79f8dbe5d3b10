"""``buildingminds onboard`` against a loopback sandbox: exit codes, summary, reject file."""

from __future__ import annotations

import gzip
import io
import json
import re
import sys
from pathlib import Path

import pytest
from cli_support import (
    CONTRACT_KEYS,
    VALID_FROM,
    VALID_UNTIL,
    address,
    read_rejects,
    run,
    site,
    write_csv,
    write_json,
    write_ndjson,
)

from buildingminds_async.sandbox import SandboxServer

pytestmark = pytest.mark.loopback


def test_clean_ndjson_run(env: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    """Every record completes: exit 0, the contract keys, no reject file, no journal left."""
    write_ndjson(Path("addresses.ndjson"), [address(i) for i in range(1, 6)])
    result = run(capsys, "onboard", "addresses.ndjson", "--json")
    assert result.code == 0, result.err
    summary = result.json
    assert summary.keys() >= CONTRACT_KEYS
    assert summary["submitted"] == summary["completed"] == 5
    assert (summary["failed"], summary["invalid"], summary["pending"]) == (0, 0, 0)
    assert summary["batches"] == 1
    assert summary["rejects"] is None
    assert not Path("addresses.ndjson.rejects.ndjson").exists()
    assert not Path("addresses.ndjson.journal").exists()
    assert sorted(env.sandbox.ledger.stored("address")) == [f"A{i}" for i in range(1, 6)]


def test_invalid_csv_rows_go_to_the_reject_file(
    env: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Invalid rows: exit 1, the rest onboarded, one reject line each with file, line and field."""
    write_ndjson(Path("addresses.ndjson"), [address(1)])
    dates = {"validFrom": VALID_FROM, "validUntil": VALID_UNTIL}
    write_csv(
        Path("sites.csv"),
        [
            {"siteId": "S1", "name": "One", "type": "Office", "addressIds": "A1", **dates},
            {"siteId": "S2", "name": "Two", "type": "Office Park", "addressIds": "A1", **dates},
            {"siteId": "S3", "name": "", "type": "Retail", "addressIds": "A1", **dates},
            {"siteId": "S4", "name": "Four", "type": "Retail", "addressIds": "A1", **dates},
        ],
    )
    result = run(capsys, "onboard", "sites.csv", "addresses.ndjson", "--json")
    assert result.code == 1, result.err
    summary = result.json
    assert (summary["completed"], summary["invalid"], summary["failed"]) == (3, 2, 0)
    assert summary["rejects"] == "sites.csv.rejects.ndjson"
    rejects = read_rejects(Path("sites.csv.rejects.ndjson"))
    assert [(r["file"], r["line"], r["field"], r["status"]) for r in rejects] == [
        ("sites.csv", 3, "type", "Invalid"),
        ("sites.csv", 4, "name", "Invalid"),
    ]
    wrong_enum, missing = rejects
    assert wrong_enum["entity"] == "site"
    assert wrong_enum["external_id"] == "S2"
    assert "Office" in wrong_enum["reason"]
    assert wrong_enum["record"]["type"] == "Office Park"
    assert wrong_enum["record"]["addressIds"] == ["A1"]  # the CSV cell, typed
    assert missing["reason"] == "name: Field required"  # an empty cell is an absent field
    assert wrong_enum["batch_id"] is None
    assert sorted(env.sandbox.ledger.stored("site")) == ["S1", "S4"]


def test_server_failure_goes_to_the_reject_file(
    env: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A record the server fails (bad postcode) is a reject with its status and batch id."""
    write_ndjson(Path("addresses.ndjson"), [address(1), address(2, postalCode="00000"), address(3)])
    result = run(capsys, "onboard", "addresses.ndjson", "--json")
    assert result.code == 1
    assert (result.json["completed"], result.json["failed"]) == (2, 1)
    (reject,) = read_rejects(Path("addresses.ndjson.rejects.ndjson"))
    assert reject["status"] == "FailedGeoCoding"
    assert (reject["file"], reject["line"], reject["external_id"]) == ("addresses.ndjson", 2, "A2")
    assert reject["batch_id"] == result.json["batch_ids"][0]
    assert reject["record"]["postalCode"] == "00000"
    assert "00000" in reject["reason"]


def test_json_array_input(env: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    """A JSON array file is onboarded; a bad element's line is its position in the array."""
    records = [address(1), address(2, country=7), address(3)]
    write_json(Path("addresses.json"), records)
    result = run(capsys, "onboard", "addresses.json", "--json")
    assert result.code == 1
    assert (result.json["completed"], result.json["invalid"]) == (2, 1)
    (reject,) = read_rejects(Path("addresses.json.rejects.ndjson"))
    assert (reject["line"], reject["field"]) == (2, "country")


def test_stdin_input(
    env: SandboxServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """'-' reads stdin (format sniffed); no journal; rejects land in the current directory."""
    data = "".join(json.dumps(r) + "\n" for r in [address(1), address(2), {"addressId": "A3"}])
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.encode())))
    result = run(capsys, "onboard", "-", "--entity", "address", "--json")
    assert result.code == 1
    assert (result.json["completed"], result.json["invalid"]) == (2, 1)
    assert result.json["journal"] is None
    (reject,) = read_rejects(Path("stdin.rejects.ndjson"))
    assert (reject["file"], reject["line"], reject["field"]) == ("<stdin>", 3, "city")
    assert not list(Path().glob("*.journal"))


def test_stdin_csv(
    env: SandboxServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CSV on stdin is recognised by its header line."""
    data = "addressId,city,country\nA1,Berlin,DE\nA2,Wien,AT\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.encode())))
    result = run(capsys, "onboard", "-", "--entity", "addresses", "--json")
    assert result.code == 0, result.err
    assert result.json["completed"] == 2


def test_csv_cells_take_the_model_types(
    env: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """CSV: ';' splits arrays, Y/N and true/false are booleans, numbers follow the model."""
    write_ndjson(Path("addresses.ndjson"), [address(1), address(2)])
    write_ndjson(Path("sites.ndjson"), [site(1)])
    write_csv(
        Path("buildings.csv"),
        [
            {
                "buildingId": "B1",
                "name": "Main",
                "siteId": "S1",
                "addressIds": "A1; A2",
                "primaryTypeOfBuilding": "Office",
                "typeOfOwnership": "Owner",
                "airConditioning": "Y",
                "selfUse": "false",
                "parkingSpaces": "12",
                "electricVehicleChargingStations": "2.5",
                "extensionData": '{"costCenter": "K-17"}',
                "monumentProtection": "",
                "validFrom": VALID_FROM,
                "validUntil": VALID_UNTIL,
            }
        ],
    )
    result = run(capsys, "onboard", "buildings.csv", "sites.ndjson", "addresses.ndjson", "--json")
    assert result.code == 0, result.err
    stored = env.sandbox.ledger.record("building", "B1")
    assert stored is not None
    assert stored["addressIds"] == ["A1", "A2"]
    assert stored["airConditioning"] is True
    assert stored["selfUse"] is False
    assert stored["parkingSpaces"] == 12
    assert stored["electricVehicleChargingStations"] == 2.5
    assert stored["extensionData"] == {"costCenter": "K-17"}
    assert "monumentProtection" not in stored


def test_files_are_pushed_parents_first(
    env: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Files named after entities are read parents first, whatever the command-line order."""
    write_ndjson(Path("sites.ndjson"), [site(1)])
    write_ndjson(Path("addresses.ndjson"), [address(1)])
    result = run(capsys, "onboard", "sites.ndjson", "addresses.ndjson", "--json")
    assert result.code == 0, result.err
    entities = [b.entity for b in env.sandbox.ledger.batches()]
    assert entities == ["address", "site"]


def test_input_whose_entity_cannot_be_told_is_a_usage_error(
    env: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """No --entity, no telling file name, no eventType: exit 2 saying how to name it,
    as --help lists, not exit 1 with every record invalid."""
    write_ndjson(Path("export.ndjson"), [address(1), address(2)])
    result = run(capsys, "onboard", "export.ndjson")
    assert result.code == 2, result.err
    assert "entity of no record could be told" in result.err
    assert "pass --entity" in result.err


def test_entity_from_event_type(env: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    """A file of mixed records takes each record's entity from its eventType."""
    records = [
        address(1, eventType="AddressAdded"),
        site(1, eventType="SiteAdded"),
        {"eventType": "CastleAdded", "castleId": "C1"},
    ]
    write_ndjson(Path("portfolio.ndjson"), records)
    result = run(capsys, "onboard", "portfolio.ndjson", "--json")
    assert result.code == 1
    assert (result.json["completed"], result.json["invalid"]) == (2, 1)
    (reject,) = read_rejects(Path("portfolio.ndjson.rejects.ndjson"))
    assert "CastleAdded" in reject["reason"]


def test_reject_file_fed_back(env: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    """A reject file, once fixed, is itself an input: its records are onboarded."""
    write_ndjson(Path("addresses.ndjson"), [address(1), {"addressId": "A2", "country": "DE"}])
    assert run(capsys, "onboard", "addresses.ndjson").code == 1
    rejects = Path("addresses.ndjson.rejects.ndjson")
    lines = read_rejects(rejects)
    lines[0]["record"]["city"] = "Hamburg"
    write_ndjson(rejects, lines)
    result = run(capsys, "onboard", str(rejects), "--json")
    assert result.code == 0, result.err
    assert result.json["completed"] == 1
    assert sorted(env.sandbox.ledger.stored("address")) == ["A1", "A2"]


def test_no_wait_then_resume(env: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    """--no-wait keeps the journal; the same command then polls its batches, re-sending nothing."""
    write_ndjson(Path("addresses.ndjson"), [address(i) for i in range(1, 8)])
    first = run(capsys, "onboard", "addresses.ndjson", "--no-wait", "--chunk-size", "3", "--json")
    assert first.code == 0, first.err
    assert first.json["pending"] == 7
    assert first.json["batches"] == 3
    assert first.json["journal"] == "addresses.ndjson.journal"
    assert Path("addresses.ndjson.journal").exists()
    second = run(capsys, "onboard", "addresses.ndjson", "--json")
    assert second.code == 0, second.err
    assert (second.json["completed"], second.json["pending"]) == (7, 0)
    assert second.json["resumed"] == 7
    assert not Path("addresses.ndjson.journal").exists()
    counts = env.sandbox.ledger.receive_counts("address")
    assert counts == {f"A{i}": 1 for i in range(1, 8)}


def test_changed_input_is_refused(env: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    """A journal written for other input is refused with exit 2, naming the changed file."""
    path = write_ndjson(Path("addresses.ndjson"), [address(1), address(2)])
    assert run(capsys, "onboard", "addresses.ndjson", "--no-wait").code == 0
    write_ndjson(path, [address(1), address(2), address(3)])
    result = run(capsys, "onboard", "addresses.ndjson")
    assert result.code == 2
    assert "addresses.ndjson changed (size" in result.err
    assert "delete the journal" in result.err
    assert env.sandbox.ledger.receive_counts("address") == {"A1": 1, "A2": 1}


def test_wrong_secret_exits_3(
    env: SandboxServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rejected secret is exit 3, and the secret is not printed."""
    monkeypatch.setenv("BUILDINGMINDS_CLIENT_SECRET", "not-the-secret-42")
    write_ndjson(Path("addresses.ndjson"), [address(1)])
    result = run(capsys, "onboard", "addresses.ndjson", "--json", "-vv")
    assert result.code == 3
    assert "authentication failed" in result.err
    assert "not-the-secret-42" not in result.out + result.err
    assert env.sandbox.ledger.receive_counts("address") == {}
    assert not Path("addresses.ndjson.journal").exists()  # nothing to resume


def test_deadline_exits_4_and_the_rerun_finishes(
    env: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Records still processing at --timeout: exit 4, journal kept; the rerun completes them."""
    write_ndjson(Path("addresses.ndjson"), [address(1), address(2)])
    first = run(capsys, "onboard", "addresses.ndjson", "--timeout", "0.2", "--json")
    assert first.code == 4, first.err
    assert first.json["pending"] == 2
    assert first.json["stopped_reason"] == "the deadline of 0.2 s passed"
    assert first.json["journal"] == "addresses.ndjson.journal"
    text = run(capsys, "onboard", "addresses.ndjson", "--timeout", "0.2")
    assert text.code == 4
    assert "journal: addresses.ndjson.journal keeps the progress" in text.out
    second = run(capsys, "onboard", "addresses.ndjson", "--json")
    assert second.code == 0, second.err
    assert (second.json["completed"], second.json["pending"]) == (2, 0)
    assert env.sandbox.ledger.receive_counts("address") == {"A1": 1, "A2": 1}


def test_missing_file_exits_2(env: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing input is exit 2 before anything is sent."""
    result = run(capsys, "onboard", "nowhere.ndjson")
    assert result.code == 2
    assert "nowhere.ndjson: no such file" in result.err
    assert env.sandbox.ledger.counters.get("requests", 0) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--entity", "castle"], "unknown entity 'castle'"),
        (["--chunk-size", "0"], "must be at least 1"),
        (["--chunk-size", "big"], "'big' is neither 'auto' nor a whole number"),
        (["--max-chunk-size", "0"], "must be at least 1"),
        (["--rate", "fast"], "is not a number"),
        (["--read-rate", "0"], "must be a positive number"),
        (["--no-wait", "--strict-order"], "--strict-order"),
        (["--rejects", "addresses.ndjson"], "is one of the inputs"),
    ],
)
def test_bad_flags_exit_2(
    env: SandboxServer, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """Bad flag values are usage errors: exit 2 with a message, nothing sent."""
    write_ndjson(Path("addresses.ndjson"), [address(1)])
    result = run(capsys, "onboard", "addresses.ndjson", *argv)
    assert result.code == 2
    assert message in result.err
    assert env.sandbox.ledger.receive_counts("address") == {}


def test_missing_credentials_exit_2(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No credentials anywhere is a configuration error (exit 2) that says what to set."""
    write_ndjson(Path("addresses.ndjson"), [address(1)])
    result = run(capsys, "onboard", "addresses.ndjson")
    assert result.code == 2
    assert "BUILDINGMINDS_CLIENT_ID" in result.err
    assert "BUILDINGMINDS_CLIENT_SECRET" in result.err
    assert not Path("addresses.ndjson.journal").exists()


def test_stats_lines_when_not_a_terminal(
    env: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a terminal: one-line stats on stderr, the last one marked done; results on stdout."""
    write_ndjson(Path("addresses.ndjson"), [address(i) for i in range(1, 4)])
    result = run(capsys, "onboard", "addresses.ndjson", "--stats-interval", "0")
    assert result.code == 0
    lines = result.err.strip().splitlines()
    pattern = re.compile(
        r"^\[\s*\d+\.\ds\] read \d+ · accepted \d+ · completed \d+ · failed \d+ · invalid \d+ "
        r"· pending \d+ · open batches \d+ · [\d,]+ records/s · requests \d+ · retries \d+ "
        r"· 429s \d+ · chunk 500"
    )
    assert lines
    assert all(pattern.match(line) for line in lines), lines
    assert lines[-1].endswith("· done")
    assert "completed 3" in lines[-1]
    assert result.out.startswith("3 records in ")


def test_quiet(env: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    """--quiet prints nothing on success; with --json only the JSON object."""
    write_ndjson(Path("addresses.ndjson"), [address(1)])
    result = run(capsys, "onboard", "addresses.ndjson", "--quiet")
    assert (result.code, result.out, result.err) == (0, "", "")
    result = run(capsys, "onboard", "addresses.ndjson", "--quiet", "--json")
    assert result.code == 0
    assert result.err == ""
    assert result.json["completed"] == 1


def test_progress_bar_renders(env: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    """--progress bar draws the rich bar (here into the captured stderr) and finishes."""
    write_ndjson(Path("addresses.ndjson"), [address(1), address(2)])
    result = run(capsys, "onboard", "addresses.ndjson", "--progress", "bar")
    assert result.code == 0, result.err
    assert "settle" in result.err
    assert "2 completed" in result.err


def test_without_rich_a_hint_and_stats_lines(
    env: SandboxServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the [cli] extra the bar becomes stats lines, with a hint to install rich."""
    monkeypatch.setitem(sys.modules, "rich.progress", None)
    write_ndjson(Path("addresses.ndjson"), [address(1)])
    result = run(capsys, "onboard", "addresses.ndjson", "--progress", "bar")
    assert result.code == 0
    assert "pip install 'buildingminds-async[cli]'" in result.err
    assert "· done" in result.err


def test_secrets_never_printed_nor_written(
    env: SandboxServer,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The secret appears in no output, log record, reject file or journal."""
    caplog.set_level("DEBUG")
    secret = env.sandbox.client_secret
    write_ndjson(Path("addresses.ndjson"), [address(1), address(2, postalCode="00000")])
    outputs = [run(capsys, "onboard", "addresses.ndjson", "--no-wait", "-vv")]
    written = [Path("addresses.ndjson.journal").read_text()]
    outputs += [
        run(capsys, "onboard", "addresses.ndjson", "--json", "-vv"),
        run(capsys, "config"),
        run(capsys, "config", "--json"),
    ]
    written += [Path("addresses.ndjson.rejects.ndjson").read_text()]
    for text in [*(r.out + r.err for r in outputs), caplog.text, *written]:
        assert secret not in text
    assert "batch" in caplog.text  # the SDK did log, at DEBUG/INFO


def test_earlier_rejects_are_kept_aside(
    env: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new run moves the reject file of an earlier run to *.previous instead of losing it."""
    write_ndjson(Path("addresses.ndjson"), [{"addressId": "A1", "country": "DE"}])
    assert run(capsys, "onboard", "addresses.ndjson").code == 1
    first = Path("addresses.ndjson.rejects.ndjson").read_text()
    result = run(capsys, "onboard", "addresses.ndjson")
    assert result.code == 1
    assert "addresses.ndjson.rejects.ndjson.previous" in result.err
    assert Path("addresses.ndjson.rejects.ndjson.previous").read_text() == first
    assert len(read_rejects(Path("addresses.ndjson.rejects.ndjson"))) == 1


def test_unknown_value_of_a_lenient_enum_warns_once(
    env: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A value outside an inferred (incomplete) list is sent as given, with one warning."""
    write_ndjson(Path("addresses.ndjson"), [address(1, country="XK"), address(2, country="XK")])
    result = run(capsys, "onboard", "addresses.ndjson")
    assert result.code == 0, result.err
    assert result.err.count("warning: address.country: 'XK' is not a known value") == 1
    assert len(env.sandbox.ledger.stored("address")) == 2


def test_a_truncated_file_without_journal_says_what_was_already_pushed(
    env: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A .gz cut short is exit 2; when records were accepted before the error and no
    journal keeps them, the message says so and what running again does."""
    body = "".join(json.dumps(address(i)) + "\n" for i in range(60_000)).encode()
    packed = gzip.compress(body)
    Path("addresses.ndjson.gz").write_bytes(packed[: len(packed) * 9 // 10])
    result = run(capsys, "onboard", "addresses.ndjson.gz", "--no-journal", "--chunk-size", "100")
    assert result.code == 2
    stored = len(env.sandbox.ledger.stored("address"))
    assert stored > 0  # the error comes late in the file: pushing had begun
    assert "already accepted by the API before the error" in result.err
    assert "running again sends them again" in result.err


def test_malformed_json_array_stops_with_exit_2(
    env: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A JSON array broken half-way is exit 2 naming the line; what was read is accounted."""
    good = json.dumps([address(1), address(2)])[:-1]
    Path("addresses.json").write_text(good + ',\n {"addressId": "A3", "city": }]')
    result = run(capsys, "onboard", "addresses.json", "--chunk-size", "1")
    assert result.code == 2
    assert "addresses.json: line 2: record 3 is not valid JSON" in result.err


@pytest.mark.parametrize(
    ("argv", "batches", "told"),
    [([], 1, "auto"), (["--chunk-size", "auto"], 1, "auto"), (["--chunk-size", "2"], 3, 2)],
)
def test_the_summary_says_which_chunk_sizes_were_used(
    env: SandboxServer,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    batches: int,
    told: object,
) -> None:
    """auto is the default; nothing binds here, so it stays at its start (500)."""
    write_ndjson(Path("addresses.ndjson"), [address(i) for i in range(1, 6)])
    result = run(capsys, "onboard", "addresses.ndjson", "--no-journal", "--json", *argv)
    assert result.code == 0, result.err
    summary = result.json
    assert summary["batches"] == batches
    assert summary["chunk_size"] == told
    final = 500 if told == "auto" else told
    assert (summary["chunk_size_min"], summary["chunk_size_max"]) == (final, final)
    assert summary["chunk_size_final"] == final
    assert summary["chunk_size_changes"] == []
