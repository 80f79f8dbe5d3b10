"""Async Python SDK for the BuildingMinds ingestion API."""

from ._version import __version__

__all__ = ["__version__"]
