"""A realistic, seeded demo portfolio written as files, one per entity and in every format.

Sites with their addresses, buildings (each with its own address), floors, spaces,
rental units and area measurements, spread over European cities. A few records are
wrong on purpose, and nothing refers to them, so that no child waits for a parent
that will never exist:

- a site whose ``type`` is not one of the documented values (invalid, never sent);
- a building without its required ``name`` (invalid, never sent);
- a space whose ``spaceHeight`` is below the 2 m minimum (invalid, never sent);
- an address with postal code ``00000``, which the sandbox cannot geocode (it is sent,
  and ends ``FailedGeoCoding``).
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

VALID_FROM: Final = "2020-01-01T00:00:00Z"
VALID_UNTIL: Final = "2099-12-31T00:00:00Z"

# (city, country, postal code range, format)
_CITIES: Final = (
    ("Berlin", "DE", (10115, 14199), "{:05d}"),
    ("Hamburg", "DE", (20095, 22769), "{:05d}"),
    ("München", "DE", (80331, 81929), "{:05d}"),
    ("Frankfurt am Main", "DE", (60306, 60599), "{:05d}"),
    ("Köln", "DE", (50667, 51149), "{:05d}"),
    ("Düsseldorf", "DE", (40210, 40629), "{:05d}"),
    ("Stuttgart", "DE", (70173, 70629), "{:05d}"),
    ("Leipzig", "DE", (4103, 4357), "{:05d}"),
    ("Wien", "AT", (1010, 1230), "{:04d}"),
    ("Graz", "AT", (8010, 8063), "{:04d}"),
    ("Zürich", "CH", (8001, 8057), "{:04d}"),
    ("Basel", "CH", (4001, 4059), "{:04d}"),
    ("Amsterdam", "NL", (1011, 1109), "{:04d} AB"),
    ("Rotterdam", "NL", (3011, 3089), "{:04d} CD"),
    ("Paris", "FR", (75001, 75020), "{:05d}"),
    ("Lyon", "FR", (69001, 69009), "{:05d}"),
)
_STREETS: Final = {
    "DE": ("Friedrichstraße", "Hauptstraße", "Bahnhofstraße", "Schillerstraße", "Lindenallee",
           "Kaiserstraße", "Mühlenweg", "Am Markt", "Goethestraße", "Industriestraße"),
    "AT": ("Mariahilfer Straße", "Ringstraße", "Landstraßer Hauptstraße", "Praterstraße",
           "Herrengasse"),
    "CH": ("Bahnhofstrasse", "Seestrasse", "Limmatquai", "Hardturmstrasse", "Badenerstrasse"),
    "NL": ("Herengracht", "Keizersgracht", "Damrak", "Coolsingel", "Weena"),
    "FR": ("Rue de Rivoli", "Avenue de l'Opéra", "Boulevard Haussmann", "Rue de la République",
           "Quai Saint-Antoine"),
}  # fmt: skip
# Site type -> building types that go with it (known values of primaryTypeOfBuilding).
_SITE_TYPES: Final = {
    "Office": ("Office, Mid-Rise Office", "Office, High-Rise Office", "Office, Business Park"),
    "Retail": ("Retail, Shopping Center", "Retail, High Street", "Retail, Warehouse"),
    "Residential": ("Residential, Multi-Family", "Residential, Student Housing"),
    "Industrial": ("Industrial, Distribution Warehouse", "Industrial, Manufacturing"),
    "Mixed Use": ("Mixed Use, Office/Retail", "Mixed Use, Office/Residential"),
    "Hotel": ("Hotel",),
    "Health Care": ("Health Care, Health Care Center", "Health Care, Senior Homes"),
}
_SITE_WORDS: Final = ("Campus", "Park", "Quartier", "Center", "Höfe", "Tower", "Plaza", "Forum")
_HEATING: Final = ("District heating", "Natural gas", "Heat pump", "Oil-based fuels")
_SPACE_TYPES: Final = ("Office", "Meeting room", "Storage", "Retail area", "Apartment", "Lobby")
_VENTILATION: Final = ("Exhaust", "Supply", "Balanced", "Heat-recovery")

BAD_POSTCODE: Final = "00000"


@dataclass(slots=True)
class PortfolioFile:
    path: Path
    entity: str
    records: int


@dataclass(slots=True)
class Portfolio:
    directory: Path
    files: list[PortfolioFile] = field(default_factory=list)
    invalid: int = 0
    """Records that fail local validation, on purpose."""
    failing: int = 0
    """Records the (sandbox) server fails, on purpose."""

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files)


def generate_portfolio(directory: Path, *, sites: int, seed: int) -> Portfolio:
    """Write the portfolio's files into ``directory``; the same seed writes the same bytes."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    addresses: list[dict[str, Any]] = []
    site_rows: list[dict[str, Any]] = []
    buildings: list[dict[str, Any]] = []
    floors: list[dict[str, Any]] = []
    spaces: list[dict[str, Any]] = []
    units: list[dict[str, Any]] = []
    areas: list[dict[str, Any]] = []

    def address(city: tuple[Any, ...]) -> str:
        name, country, (low, high), postcode = city
        address_id = f"ADDR-{len(addresses) + 1:06d}"
        addresses.append(
            {
                "addressId": address_id,
                "streetName": rng.choice(_STREETS[country]),
                "houseNumber": str(rng.randint(1, 240)),
                "postalCode": postcode.format(rng.randint(low, high)),
                "city": name,
                "country": country,
                "type": "Postal address",
            }
        )
        return address_id

    for s in range(1, sites + 1):
        city = rng.choice(_CITIES)
        site_type = rng.choice(list(_SITE_TYPES))
        site_id = f"SITE-{s:05d}"
        site_name = f"{city[0]} {rng.choice(_SITE_WORDS)} {s}"
        site_rows.append(
            {
                "siteId": site_id,
                "name": site_name[:50],
                "type": site_type,
                "addressIds": [address(city)],
                "siteCode": f"S{s:05d}",
                "validFrom": VALID_FROM,
                "validUntil": VALID_UNTIL,
            }
        )
        for b in range(rng.randint(3, 7)):
            building_id = f"BLD-{len(buildings) + 1:06d}"
            year = rng.randint(1955, 2023)
            buildings.append(
                {
                    "buildingId": building_id,
                    "name": f"{site_name} - Haus {chr(ord('A') + b)}",
                    "siteId": site_id,
                    "addressIds": [address(city)],
                    "primaryTypeOfBuilding": rng.choice(_SITE_TYPES[site_type]),
                    "typeOfOwnership": rng.choice(("Owner", "Owner", "Tenant")),
                    "primaryHeatingType": rng.choice(_HEATING),
                    "constructionYear": f"{year}-01-01T00:00:00Z",
                    "parkingSpaces": rng.randint(0, 400),
                    "airConditioning": rng.random() < 0.6,
                    "validFrom": VALID_FROM,
                    "validUntil": VALID_UNTIL,
                }
            )
            storeys = rng.randint(2, 6)
            for f in range(storeys):
                floor_id = f"FLR-{len(floors) + 1:07d}"
                number = f - 1 if storeys > 3 else f  # taller buildings have a basement
                floors.append(
                    {
                        "floorId": floor_id,
                        "buildingId": building_id,
                        "name": "Basement" if number < 0 else f"Floor {number}",
                        "floorNumber": str(number),
                        "validFrom": VALID_FROM,
                        "validUntil": VALID_UNTIL,
                    }
                )
                for r in range(rng.randint(1, 3)):
                    spaces.append(
                        {
                            "spaceId": f"SPC-{len(spaces) + 1:07d}",
                            "floorId": floor_id,
                            "name": f"Room {number}.{r + 1:02d}",
                            "type": rng.choice(_SPACE_TYPES),
                            "spaceHeight": round(rng.uniform(2.5, 4.2), 2),
                            "maximumOccupancy": rng.randint(1, 60),
                            "ventilationType": rng.choice(_VENTILATION),
                            "validFrom": VALID_FROM,
                            "validUntil": VALID_UNTIL,
                        }
                    )
            units.append(
                {
                    "rentalUnitId": f"RU-{len(units) + 1:06d}",
                    "name": f"{site_name} - Haus {chr(ord('A') + b)}, whole building",
                    "buildingIds": [building_id],
                    "rentedOut": rng.random() < 0.85,
                    "usageType": site_type,
                    "validFrom": VALID_FROM,
                    "validUntil": VALID_UNTIL,
                }
            )
            areas.append(
                {
                    "areaMeasurementId": f"AM-{len(areas) + 1:06d}",
                    "buildingIds": [building_id],
                    "type": "Gross floor area",
                    "standard": "DIN 277-1",
                    "accuracy": "Measured",
                    "unit": "sqm",
                    "value": rng.randint(400, 30000) * storeys // 3,
                    "bmEstimation": False,
                    "validFrom": VALID_FROM,
                    "validUntil": VALID_UNTIL,
                }
            )

    # The mistakes, each at a realistic place in its file and referenced by nothing.
    bad_address = dict(addresses[0], addressId="ADDR-900001", postalCode=BAD_POSTCODE)
    addresses.insert(len(addresses) // 3, bad_address)
    bad_site = dict(site_rows[0], siteId="SITE-90001", name="Logistics Hub Süd", siteCode="S90001")
    bad_site["type"] = "Office Park"  # not one of the 11 documented site types
    site_rows.insert(len(site_rows) // 2, bad_site)
    bad_building = dict(buildings[0], buildingId="BLD-900001")
    del bad_building["name"]  # required
    buildings.insert(len(buildings) * 2 // 3, bad_building)
    bad_space = dict(spaces[0], spaceId="SPC-9000001", spaceHeight=1.6)  # minimum is 2 m
    spaces.insert(len(spaces) // 4, bad_space)

    portfolio = Portfolio(directory, invalid=3, failing=1)
    portfolio.files = [
        _ndjson(directory / "addresses.ndjson", "address", addresses),
        _csv(directory / "sites.csv", "site", site_rows),
        _csv(directory / "buildings.csv", "building", buildings),
        _ndjson(directory / "floors.ndjson", "floor", floors),
        _json_array(directory / "spaces.json", "space", spaces),
        _csv(directory / "rental-units.csv", "rental-unit", units),
        _ndjson(directory / "area-measurements.jsonl", "area-measurement", areas),
    ]
    return portfolio


def _ndjson(path: Path, entity: str, records: list[dict[str, Any]]) -> PortfolioFile:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return PortfolioFile(path, entity, len(records))


def _json_array(path: Path, entity: str, records: list[dict[str, Any]]) -> PortfolioFile:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("[\n")
        for i, record in enumerate(records):
            handle.write(("  " if i == 0 else ", ") + json.dumps(record, ensure_ascii=False))
            handle.write("\n")
        handle.write("]\n")
    return PortfolioFile(path, entity, len(records))


def _csv(path: Path, entity: str, records: list[dict[str, Any]]) -> PortfolioFile:
    columns = list(dict.fromkeys(key for record in records for key in record))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for record in records:
            writer.writerow([_cell(record.get(column)) for column in columns])
    return PortfolioFile(path, entity, len(records))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value)
    return str(value)


def describe(files: Iterable[PortfolioFile]) -> list[str]:
    return [f"  {f.path.name:<26} {f.records:>7,} {f.entity} records" for f in files]
