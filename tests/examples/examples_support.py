"""Records the example-app tests send."""

from __future__ import annotations

BUILDING = {
    "buildingId": "B-1",
    "name": "Main tower",
    "siteId": "S-1",
    "addressIds": ["A-1"],
    "primaryTypeOfBuilding": "Office",
    "typeOfOwnership": "Owner",
    "validFrom": "2024-01-01",
    "validUntil": "2030-01-01",
}
