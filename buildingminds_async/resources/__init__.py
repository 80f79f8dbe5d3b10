"""Thin wrappers of the API's endpoints."""
