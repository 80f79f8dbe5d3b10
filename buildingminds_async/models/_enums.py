"""Enumerations of the BuildingMinds entity catalogue.

Enums read from the BuildingMinds documentation are ``Literal`` types: any other value is
rejected. Enums inferred from the IBPDI data model or documented with a cut-off list are strings
marked :class:`LenientEnum`: another value is accepted with an ``UnknownEnumValueWarning``,
because the real list is longer.

Generated from tests/data/entities.json by scripts/generate_models.py: change the catalogue or
the generator and regenerate; do not edit by hand.
"""

from typing import Annotated, Literal

from pydantic import StringConstraints

from ._base import LenientEnum

__all__ = [
    "AddressCountry",
    "AddressEventType",
    "AreaMeasurementAccuracy",
    "AreaMeasurementEventType",
    "AreaMeasurementStandard",
    "AreaMeasurementType",
    "AreaMeasurementUnit",
    "BuildingEventType",
    "BuildingPrimaryEnergyType",
    "BuildingPrimaryHeatingType",
    "BuildingPrimaryTypeOfBuilding",
    "BuildingSecondaryHeatingType",
    "BuildingSecondaryTypeOfBuilding",
    "BuildingTenantStructure",
    "BuildingTypeOfOwnership",
    "EnergyRatingEventType",
    "FloorEventType",
    "LandEventType",
    "LandTenantStructure",
    "LandTypeOfOwnership",
    "MeterEventType",
    "OperationalMeasurementAccuracy",
    "OperationalMeasurementCustomerInfoSource",
    "OperationalMeasurementEventType",
    "OperationalMeasurementLifeCycleAssessment",
    "OperationalMeasurementProcuredBy",
    "OperationalMeasurementPurpose",
    "OperationalMeasurementSpaceType",
    "OperationalMeasurementSubType",
    "OperationalMeasurementType",
    "OperationalMeasurementUnit",
    "RentalPaymentCurrency",
    "RentalUnitEventType",
    "RentalUnitFossilFuelExposure",
    "ResourceConsumptionEventType",
    "SiteEventType",
    "SiteType",
    "SpaceEventType",
    "SpaceVentilationType",
]

# Known values shared by building.primaryTypeOfBuilding and building.secondaryTypeOfBuilding.
_TYPE_OF_BUILDING = (
    "Retail",
    "Retail, High Street",
    "Retail, Retail Centers",
    "Retail, Shopping Center",
    "Retail, Strip Mall",
    "Retail, Lifestyle Center",
    "Retail, Warehouse",
    "Retail, Restaurants/Bars",
    "Retail, Other",
    "Office",
    "Office, Corporate",
    "Office, Low-Rise Office",
    "Office, Mid-Rise Office",
    "Office, High-Rise Office",
    "Office, Medical Office",
    "Office, Business Park",
    "Office, Other",
    "Industrial",
    "Industrial, Distribution Warehouse",
    "Industrial, Industrial Park",
    "Industrial, Manufacturing",
    "Industrial, Other",
    "Residential",
    "Residential, Multi-Family",
    "Residential, Low-Rise Multi-Family",
    "Residential, Mid-Rise Multi-Family",
    "Residential, High-Rise Multi-Family",
    "Residential, Family Homes",
    "Residential, Student Housing",
    "Residential, Retirement Living",
    "Residential, Other",
    "Hotel",
    "Lodging, Leisure & Recreation",
    "Lodging, Leisure & Recreation, Indoor Arena",
    "Lodging, Leisure & Recreation, Fitness Center",
    "Lodging, Leisure & Recreation, Performing Arts",
    "Lodging, Leisure & Recreation, Swimming Center",
    "Lodging, Leisure & Recreation, Museum/Gallery",
    "Lodging, Leisure & Recreation, Other",
    "Education",
    "Education, School",
    "Education, University",
    "Education, Library",
    "Education, Other",
    "Technology/Science",
    "Technology/Science, Data Center",
    "Technology/Science, Laboratory/Life sciences",
    "Technology/Science, Other",
    "Health Care",
    "Health Care, Health Care Center",
    "Health Care, Senior Homes",
    "Health Care, Other",
    "Mixed Use",
    "Mixed Use, Office/Retail",
    "Mixed Use, Office/Residential",
    "Mixed Use, Office/Industrial",
    "Mixed Use, Other",
    "Other",
    "Other, Parking (Indoors)",
    "Other, Self-Storage",
)

AddressCountry = Annotated[
    str,
    LenientEnum(
        "address",
        "country",
        (
            "AF",
            "AL",
            "DZ",
            "AS",
            "AD",
            "AO",
            "AI",
            "AQ",
            "AG",
            "AR",
            "AM",
            "AW",
            "AU",
            "AT",
            "AZ",
            "BS",
            "BH",
            "BD",
            "BB",
            "BY",
            "BE",
            "BZ",
            "BJ",
            "BM",
            "BT",
            "BO",
            "BQ",
            "BA",
            "BW",
            "BV",
            "BR",
            "IO",
            "BN",
            "BG",
            "BF",
            "BI",
            "CV",
            "KH",
            "CM",
            "CA",
            "KY",
            "CF",
            "TD",
            "CL",
            "CN",
            "CX",
            "CC",
            "CO",
            "KM",
            "CD",
            "CG",
            "CK",
            "CR",
            "HR",
            "CU",
            "CW",
            "CY",
            "CZ",
            "CI",
            "DK",
            "DJ",
            "DM",
            "DO",
            "EC",
            "EG",
            "SV",
            "GQ",
            "ER",
            "EE",
            "SZ",
            "ET",
            "FK",
            "FO",
            "FJ",
            "FI",
            "FR",
            "GF",
            "PF",
            "TF",
            "GA",
            "GM",
            "GE",
            "DE",
            "GH",
            "GI",
            "GR",
            "GL",
            "GD",
            "GP",
            "GU",
            "GT",
            "GG",
            "GN",
            "GW",
            "GY",
            "HT",
            "HM",
            "VA",
            "HN",
            "HK",
            "HU",
            "IS",
            "IN",
            "ID",
            "IR",
            "IQ",
            "IE",
            "IM",
            "IL",
            "IT",
            "JM",
            "JP",
            "JE",
            "JO",
            "KZ",
            "KE",
            "KI",
            "KP",
            "KR",
            "KW",
            "KG",
            "LA",
            "LV",
            "LB",
            "LS",
            "LR",
            "LY",
            "LI",
            "LT",
            "LU",
            "MO",
            "MG",
            "MW",
            "MY",
            "MV",
            "ML",
            "MT",
            "MH",
            "MQ",
            "MR",
            "MU",
            "YT",
            "MX",
            "FM",
            "MD",
            "MC",
            "MN",
            "ME",
            "MS",
            "MA",
            "MZ",
            "MM",
            "NA",
            "NR",
            "NP",
            "NL",
            "NC",
            "NZ",
            "NI",
            "NE",
            "NG",
            "NU",
            "NF",
            "MP",
            "NO",
            "OM",
            "PK",
            "PW",
            "PS",
            "PA",
            "PG",
            "PY",
            "PE",
            "PH",
            "PN",
            "PL",
            "PT",
            "PR",
            "QA",
            "MK",
            "RO",
            "RU",
            "RW",
            "RE",
            "BL",
            "SH",
            "KN",
            "LC",
            "MF",
            "PM",
            "VC",
            "WS",
            "SM",
            "ST",
            "SA",
            "SN",
            "RS",
            "SC",
            "SL",
            "SG",
            "SX",
            "SK",
            "SI",
            "SB",
            "SO",
            "ZA",
            "GS",
            "SS",
            "ES",
            "LK",
            "SD",
            "SR",
            "SJ",
            "SE",
            "CH",
            "SY",
            "TW",
            "TJ",
            "TZ",
            "TH",
            "TL",
            "TG",
            "TK",
            "TO",
            "TT",
            "TN",
            "TR",
            "TM",
            "TC",
            "TV",
            "UG",
            "UA",
            "AE",
            "GB",
            "UM",
            "US",
            "UY",
            "UZ",
            "VU",
            "VE",
            "VN",
            "VG",
            "VI",
            "WF",
            "EH",
            "YE",
            "ZM",
            "ZW",
            "AX",
        ),
    ),
]
"""Known values of ``address.country``; another value is accepted with a warning (the list is
inferred).
"""

AddressEventType = Annotated[
    str, LenientEnum("address", "eventType", ("AddressAdded", "AddressUpdated"))
]
"""Known values of ``address.eventType``; another value is accepted with a warning (the list is
inferred).
"""

SiteEventType = Literal["SiteAdded", "SiteUpdated", "SiteDeleted"]
"""Values of ``site.eventType``, as documented; any other value is rejected."""

SiteType = Literal[
    "Education",
    "Health Care",
    "Hotel",
    "Industrial",
    "Lodging, Leisure & Recreation",
    "Mixed Use",
    "Office",
    "Residential",
    "Retail",
    "Technology/Science",
    "Other",
]
"""Values of ``site.type``, as documented; any other value is rejected."""

BuildingEventType = Annotated[
    str,
    LenientEnum("building", "eventType", ("BuildingAdded", "BuildingUpdated", "BuildingDeleted")),
]
"""Known values of ``building.eventType``; another value is accepted with a warning (the list is
inferred).
"""

BuildingPrimaryEnergyType = Annotated[
    str,
    StringConstraints(min_length=1, max_length=50),
    LenientEnum(
        "building",
        "primaryEnergyType",
        (
            "Natural Gas",
            "Coal",
            "Nuclear",
            "Petroleum",
            "Hydropower",
            "Wind",
            "Biomass",
            "Geothermal",
            "Solar",
        ),
    ),
]
"""Known values of ``building.primaryEnergyType``; another value is accepted with a warning (the
list is inferred).
"""

BuildingPrimaryHeatingType = Annotated[
    str,
    StringConstraints(min_length=1, max_length=50),
    LenientEnum(
        "building",
        "primaryHeatingType",
        (
            "District heating",
            "Natural gas",
            "Oil-based fuels",
            "Solar thermal",
            "Unspecified",
            "Heat pump",
            "Electricity (radiator)",
            "Biomass",
            "Micro combined heat and power",
        ),
    ),
]
"""Known values of ``building.primaryHeatingType``; another value is accepted with a warning (the
list is inferred).
"""

BuildingPrimaryTypeOfBuilding = Annotated[
    str,
    StringConstraints(min_length=1, max_length=75),
    LenientEnum("building", "primaryTypeOfBuilding", _TYPE_OF_BUILDING),
]
"""Known values of ``building.primaryTypeOfBuilding``; another value is accepted with a warning
(the list is inferred).
"""

BuildingSecondaryHeatingType = Annotated[
    str,
    StringConstraints(min_length=1, max_length=50),
    LenientEnum(
        "building",
        "secondaryHeatingType",
        (
            "District heating",
            "Natural gas",
            "Oil-based fuels",
            "Solar thermal",
            "Unspecified",
            "Heat pump",
            "Electricity (radiator)",
        ),
    ),
]
"""Known values of ``building.secondaryHeatingType``; another value is accepted with a warning (the
list is inferred).
"""

BuildingSecondaryTypeOfBuilding = Annotated[
    str,
    StringConstraints(min_length=1, max_length=75),
    LenientEnum("building", "secondaryTypeOfBuilding", _TYPE_OF_BUILDING),
]
"""Known values of ``building.secondaryTypeOfBuilding``; another value is accepted with a warning
(the list is inferred).
"""

BuildingTenantStructure = Annotated[
    str,
    StringConstraints(min_length=1, max_length=50),
    LenientEnum("building", "tenantStructure", ("Single-tenant", "Multi-tenant")),
]
"""Known values of ``building.tenantStructure``; another value is accepted with a warning (the list
is inferred).
"""

BuildingTypeOfOwnership = Annotated[
    str,
    StringConstraints(min_length=1, max_length=50),
    LenientEnum("building", "typeOfOwnership", ("Owner", "Tenant")),
]
"""Known values of ``building.typeOfOwnership``; another value is accepted with a warning (the list
is inferred).
"""

LandEventType = Literal["LandAdded", "LandUpdated", "LandDeleted"]
"""Values of ``land.eventType``, as documented; any other value is rejected."""

LandTenantStructure = Literal["Single-tenant", "Multi-tenant"]
"""Values of ``land.tenantStructure``, as documented; any other value is rejected."""

LandTypeOfOwnership = Literal["Owner", "Tenant"]
"""Values of ``land.typeOfOwnership``, as documented; any other value is rejected."""

FloorEventType = Literal["FloorAdded", "FloorUpdated", "FloorDeleted"]
"""Values of ``floor.eventType``, as documented; any other value is rejected."""

SpaceEventType = Literal["SpaceAdded", "SpaceUpdated", "SpaceDeleted"]
"""Values of ``space.eventType``, as documented; any other value is rejected."""

SpaceVentilationType = Annotated[
    str,
    StringConstraints(min_length=1, max_length=50),
    LenientEnum("space", "ventilationType", ("Exhaust", "Supply", "Balanced", "Heat-recovery")),
]
"""Known values of ``space.ventilationType``; another value is accepted with a warning (the list is
inferred).
"""

RentalUnitEventType = Literal["RentalUnitAdded", "RentalUnitUpdated", "RentalUnitDeleted"]
"""Values of ``rental-unit.eventType``, as documented; any other value is rejected."""

RentalUnitFossilFuelExposure = Literal[
    "Extraction", "Storage", "Transport", "Manufacture", "Other", "Not exposed"
]
"""Values of ``rental-unit.fossilFuelExposure``, as documented; any other value is rejected."""

AreaMeasurementAccuracy = Literal["Estimated", "Measured", "Aggregated", "Unknown"]
"""Values of ``area-measurement.accuracy``, as documented; any other value is rejected."""

AreaMeasurementEventType = Literal[
    "AreaMeasurementAdded", "AreaMeasurementUpdated", "AreaMeasurementDeleted"
]
"""Values of ``area-measurement.eventType``, as documented; any other value is rejected."""

AreaMeasurementStandard = Literal["DIN 277-1", "MFG", "IPMS", "RICS", "BOMA", "NA"]
"""Values of ``area-measurement.standard``, as documented; any other value is rejected."""

AreaMeasurementType = Annotated[
    str,
    LenientEnum(
        "area-measurement",
        "type",
        (
            "Gross floor area",
            "Construction area",
            "Net room area",
            "Circulation area",
            "Net usable area",
            "Technical area",
            "Living/residence area",
            "Office area",
            "Production/laboratory area",
            "Storage/distribution/selling area",
            "Education/teaching/culture area",
            "Healing/care area",
            "Other uses",
            "Rentable exclusion",
            "Rentable area",
            "Gross external area",
            "External Wall area",
            "Gross internal area",
            "A-Vertical penetrations",
            "B-Structural elements",
            "C-Technical services",
            "D-Hygiene areas",
            "E-Circulation areas",
            "F-Amenities",
            "G-Workspace",
            "H-Other areas",
            "Boundary area",
            "Rentable area common occupancy",
            "Building amenity area",
            "Building service area",
            "Floor service area",
            "Rentable area exclusive occupancy",
            "Tenant ancillary area",
            "Tenant area",
            "Major vertical penetrations",
            "Occupant Storage area",
            "Parking area",
            "Unenclosed Building Feature: Covered Gallery",
            "Vacant area",
            "NA",
            "Energy reference area",
        ),
    ),
]
"""Known values of ``area-measurement.type``; another value is accepted with a warning (the list is
inferred).
"""

AreaMeasurementUnit = Annotated[
    str,
    StringConstraints(min_length=1, max_length=50),
    LenientEnum("area-measurement", "unit", ("sqm", "sqft")),
]
"""Known values of ``area-measurement.unit``; another value is accepted with a warning (the list is
inferred).
"""

OperationalMeasurementAccuracy = Literal[
    "Missing",
    "Estimated",
    "Metered",
    "Extrapolated",
    "Planned",
    "Simulated",
    "Unspecified",
    "Normalised",
    "Calculated based on estimated data",
    "Calculated based on metered data",
    "Calculated based on extrapolated data",
    "Calculated based on planned data",
    "Calculated based on simulated data",
    "Calculated based on data with unspecified accuracy",
    "Calculated based on normalised data",
    "Projection based on estimated data",
    "Projection based on metered data",
    "Projection based on extrapolated data",
    "Projection based on planned data",
    "Projection based on simulated data",
    "Projection based on data with unspecified accuracy",
    "Projection based on normalised data",
    "Calculated based on projected estimated data",
    "Calculated based on projected metered data",
    "Calculated based on projected extrapolated data",
    "Calculated based on projected planned data",
    "Calculated based on projected simulated data",
    "Calculated based on projected data with unspecified accuracy",
    "Calculated based on projected normalised data",
    "Retrofit scenario",
    "Implausible",
    "Calculated based on implausible data",
    "Calculated based on projected implausible data",
    "Projection based on implausible data",
]
"""Values of ``operational-measurement.accuracy``, as documented; any other value is rejected."""

OperationalMeasurementCustomerInfoSource = Annotated[
    str, LenientEnum("operational-measurement", "customerInfoSource", ("Export", "Survey", "Meter"))
]
"""Known values of ``operational-measurement.customerInfoSource``; another value is accepted with a
warning (the documented list is cut off).
"""

OperationalMeasurementEventType = Annotated[
    str,
    LenientEnum(
        "operational-measurement",
        "eventType",
        (
            "OperationalMeasurementAdded",
            "OperationalMeasurementUpdated",
            "OperationalMeasurementDeleted",
        ),
    ),
]
"""Known values of ``operational-measurement.eventType``; another value is accepted with a warning
(the list is inferred).
"""

OperationalMeasurementLifeCycleAssessment = Annotated[
    str,
    LenientEnum(
        "operational-measurement",
        "lifeCycleAssessment",
        (
            "A1",
            "A2",
            "A3",
            "A4",
            "A5",
            "B1",
            "B2",
            "B3",
            "B4",
            "B5",
            "B6",
            "B7",
            "C1",
            "C2",
            "C3",
            "C4",
            "D",
        ),
    ),
]
"""Known values of ``operational-measurement.lifeCycleAssessment``; another value is accepted with
a warning (the list is inferred).
"""

OperationalMeasurementProcuredBy = Annotated[
    str,
    LenientEnum(
        "operational-measurement",
        "procuredBy",
        ("Procured by third party", "Self-procured", "Unspecified"),
    ),
]
"""Known values of ``operational-measurement.procuredBy``; another value is accepted with a warning
(the list is inferred).
"""

OperationalMeasurementPurpose = Annotated[
    str,
    LenientEnum(
        "operational-measurement",
        "purpose",
        (
            "Space heating",
            "Water heating",
            "Heating (unspecified)",
            "Cooling",
            "Lighting",
            "Elevator",
            "Appliances",
            "Other",
            "Unspecified",
            "Heat pump",
        ),
    ),
]
"""Known values of ``operational-measurement.purpose``; another value is accepted with a warning
(the list is inferred).
"""

OperationalMeasurementSpaceType = Annotated[
    str,
    StringConstraints(min_length=1, max_length=50),
    LenientEnum(
        "operational-measurement",
        "spaceType",
        (
            "Shared services/Common spaces",
            "Tenant space",
            "Landlord space",
            "Whole building",
            "Unspecified",
            "Shared services",
            "Common spaces",
            "Outdoor",
            "Exterior area",
            "Parking",
        ),
    ),
]
"""Known values of ``operational-measurement.spaceType``; another value is accepted with a warning
(the list is inferred).
"""

OperationalMeasurementSubType = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100),
    LenientEnum(
        "operational-measurement",
        "subType",
        (
            "Electricity from grid (green electricity contract)",
            "Electricity self-generated & exported",
            "Electricity self-generated & consumed",
            "Electricity (unspecified)",
            "REC",
            "Natural gas (standard mix)",
            "Green natural gas",
            "Natural gas (unspecified)",
            "Oil-based fuels",
            "Fuel (unspecified)",
            "District heating",
            "District cooling",
            "Biomass",
            "Solar thermal",
            "Fresh water (municipal water supply)",
            "Ground water (collected on site)",
            "Rain water (collected on site)",
            "Reclaimed water",
            "Water discharge",
            "Water consumption (unspecified)",
            "Recycling: non-hazardous",
            "Incineration: non-hazardous",
            "Waste to energy: non-hazardous",
            "Other/Unknown: hazardous",
            "Other/Unknown: non-hazardous",
            "Electricity from grid (normal contract)",
            "Carbon dioxide (CO2)",
            "Methane (CH4)",
            "Nitrous oxide (N2O)",
            "R-11 | CFC-11 | Trichlorofluoromethane (CCI3F)",
            "R-12 | CFC-12 | Dichlorofluoromethane (CCI2F2)",
            "R-13 | CFC-13 | Chlorodifluoromethane (CCIF3)",
            "R-113 | CFC-113 | 1,1,2-Trichloro-1,2,2-trifluoroethane (C2CI3F3)",
            "R-114 | CFC-114 | Halon-242 | 1,2-Dichlorotetrafluoroethane (C2Cl2F4)",
            "R-115 | CFC-115 | Chloropentafluoroethane (C2ClF5)",
            "R13 B1 | Halon-1301 | Bromotrifluoromethane (CBrF3)",
            "R-12B1 | Halon-1211 | Bromochlorodifluoromethane (CBrCIF2)",
            "R 114B2 | Halon-2402 | 1,2-Dibromotetrafluoroethane (C2Br2F4)",
            "R-10 | Carbon tetrachloride (CCl4)",
            "Bromomethane | Methyl bromide (CH3Br)",
            "R-140a | 1,1,1- Trichloroethane | Methyl chloroform (C2H3Cl3)",
            "R-21 | HCFC-21 | Dichlorofluoromethane (CHCl2F)",
            "R-22 | HCFC-22 | Chlorodifluoromethane (CHClF2)",
            "R-123 | HCFC-123 | 2,2-Dichloro-1,1,1-trifluoroethane (C2Cl2F3)",
            "R-124 | HCFC-124| 1-Chloro-1,2,2,2-tetrafluoroethane (C2ClF4)",
            "R-141b | HCFC-141b |1,1,-Dichloro-1-1-fluoroethane (C2H3Cl2F)",
            "R-142b | HCFC-142b | 1-Chloro-1,1,-difluoroethane (C2ClF2)",
            "R-225ca | HCFC-225ca | 3.3-dichloro-1,1,1,2,2-pentafluoropropane (C3HCl2F5)",
            "R-225cb | HCFC-225cb | 1,3-Dichloro-1,1,2,2,3-pentafluoropropane (C3HCl2F5)",
            "R-23 | HFC-23 |",
            "R-32 | HFC-32 |",
            "R-41 | HFC-41 |",
            "R-125 | HFC-125 |",
            "R-134 | HFC-134 |",
            "R-134a | HFC-134a |",
            "R-143 | HFC-143 |",
            "R-143a | HFC-143a |",
            "R-152 | HFC-152 |",
            "R-152a | HFC-152a |",
            "R-161 | HFC-161 |",
            "R-227ea | HFC-227ea |",
            "R-236cb | HFC-236cb |",
            "R-236ea | HFC-236ea |",
            "R-236fa | HFC-236fa |",
            "R-245ca | HFC-245ca |",
            "R-245fa | HFC-245fa |",
            "R-365mfc | HFC-365mfc |",
            "R-43-10mee | HFC-43-10mee |",
            "Sulfur hexafluoride (SF6)",
            "Nitrogen trifluoride (NF3)",
            "Water supply",
            "Landfill: non-hazardous",
            "Reuse: non-hazardous",
            "Waste to energy: hazardous",
            "Incineration: hazardous",
            "Landfill: hazardous",
            "Recycling: hazardous",
            "Reuse: hazardous",
        ),
    ),
]
"""Known values of ``operational-measurement.subType``; another value is accepted with a warning
(the list is inferred).
"""

OperationalMeasurementType = Annotated[
    str,
    StringConstraints(min_length=1, max_length=50),
    LenientEnum("operational-measurement", "type", ("Energy", "Water", "Waste", "Fugitive")),
]
"""Known values of ``operational-measurement.type``; another value is accepted with a warning (the
list is inferred).
"""

OperationalMeasurementUnit = Annotated[
    str,
    StringConstraints(min_length=1, max_length=50),
    LenientEnum("operational-measurement", "unit", ("kWh", "cubm", "kg")),
]
"""Known values of ``operational-measurement.unit``; another value is accepted with a warning (the
list is inferred).
"""

EnergyRatingEventType = Annotated[
    str,
    LenientEnum(
        "energy-rating",
        "eventType",
        ("EnergyRatingAdded", "EnergyRatingUpdated", "EnergyRatingDeleted"),
    ),
]
"""Known values of ``energy-rating.eventType``; another value is accepted with a warning (the list
is inferred).
"""

RentalPaymentCurrency = Annotated[
    str,
    StringConstraints(min_length=1, max_length=50),
    LenientEnum(
        "rental-payment",
        "currency",
        (
            "AFN",
            "ALL",
            "DZD",
            "USD",
            "EUR",
            "AOA",
            "XCD",
            "ARS",
            "AMD",
            "AWG",
            "AUD",
            "AZN",
            "BSD",
            "BHD",
            "BDT",
            "BBD",
            "BYN",
            "BZD",
            "XOF",
            "BMD",
            "BTN",
            "INR",
            "BOB",
            "BOV",
            "BAM",
            "BWP",
            "NOK",
            "BRL",
            "BND",
            "BGN",
            "BIF",
            "CVE",
            "KHR",
            "XAF",
            "CAD",
            "KYD",
            "CLF",
            "CLP",
            "CNY",
            "COP",
            "COU",
            "KMF",
            "CDF",
            "NZD",
            "CRC",
            "HRK",
            "CUC",
            "CUP",
            "ANG",
            "CZK",
            "DKK",
            "DJF",
            "DOP",
            "EGP",
            "SVC",
            "ERN",
            "ETB",
            "FKP",
            "FJD",
            "XPF",
            "GMD",
            "GEL",
            "GHS",
            "GIP",
            "GTQ",
            "GBP",
            "GNF",
            "GYD",
            "HTG",
            "HNL",
            "HKD",
            "HUF",
            "ISK",
            "IDR",
            "XDR",
            "IRR",
            "IQD",
            "ILS",
            "JMD",
            "JPY",
            "JOD",
            "KZT",
            "KES",
            "KPW",
            "KRW",
            "KWD",
            "KGS",
            "LAK",
            "LBP",
            "LSL",
            "ZAR",
            "LRD",
            "LYD",
            "CHF",
            "MOP",
            "MGA",
            "MWK",
            "MYR",
            "MVR",
            "MRU",
            "MUR",
            "XUA",
            "MXN",
            "MXV",
            "MDL",
            "MNT",
            "MAD",
            "MZN",
            "MMK",
            "NAD",
            "NPR",
            "NIO",
            "NGN",
            "OMR",
            "PKR",
            "PAB",
            "PGK",
            "PYG",
            "PEN",
            "PHP",
            "PLN",
            "QAR",
            "MKD",
            "RON",
            "RUB",
            "RWF",
            "SHP",
            "WST",
            "STN",
            "SAR",
            "RSD",
            "SCR",
            "SLL",
            "SGD",
            "XSU",
            "SBD",
            "SOS",
            "SSP",
            "LKR",
            "SDG",
            "SRD",
            "SZL",
            "SEK",
            "CHE",
            "CHW",
            "SYP",
            "TWD",
            "TJS",
            "TZS",
            "THB",
            "TOP",
            "TTD",
            "TND",
            "TRY",
            "TMT",
            "UGX",
            "UAH",
            "AED",
            "USN",
            "UYI",
            "UYU",
            "UZS",
            "VUV",
            "VEF",
            "VED",
            "VND",
            "YER",
            "ZMW",
            "ZWL",
        ),
    ),
]
"""Known values of ``rental-payment.currency``; another value is accepted with a warning (the list
is inferred).
"""

MeterEventType = Annotated[
    str, LenientEnum("meter", "eventType", ("MeterAdded", "MeterUpdated", "MeterDeleted"))
]
"""Known values of ``meter.eventType``; another value is accepted with a warning (the list is
inferred).
"""

ResourceConsumptionEventType = Annotated[
    str,
    LenientEnum(
        "resource-consumption",
        "eventType",
        ("ResourceConsumptionAdded", "ResourceConsumptionUpdated", "ResourceConsumptionDeleted"),
    ),
]
"""Known values of ``resource-consumption.eventType``; another value is accepted with a warning
(the list is inferred).
"""
