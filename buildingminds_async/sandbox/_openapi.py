"""The OpenAPI document of the sandbox (``GET /openapi.json``): what it really does.

Record schemas come from the same pydantic models the SDK validates with (by alias).
A push body is an array of them, yet a record that breaks its schema is still accepted
(200 and a Batch ID) and then ends ``FailedValidation``, as on the real API: the
schema describes a *good* record, not what the endpoint refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic.json_schema import models_json_schema

from ._config import API_BASE_PATH, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT
from ._entities import EntityRule
from ._state import STATUSES

__all__ = ["build_openapi"]

_REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None) -> Any:
    out: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }
    if headers:
        out["headers"] = headers
    return out


_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before the next request (an integer >= 1).",
        "schema": {"type": "string", "pattern": r"^\d+$"},
    }
}


def _errors(*statuses: int) -> dict[str, Any]:
    texts = {
        400: "Request validation failed (body is not a JSON array, or a bad query value).",
        401: "Missing, unknown, revoked or expired bearer token.",
        404: "No such batch.",
        405: "Method not allowed (the Allow header lists the methods).",
        413: "Too many records in one request, or a body larger than the limit.",
        415: "The body is not sent as Content-Type: application/json.",
        429: "Rate limit exceeded (token bucket or fixed window per client); honour Retry-After.",
        500: "Internal server error (only when injected).",
        502: "Bad gateway (only when injected).",
        503: "Service unavailable (only when injected); may carry Retry-After.",
        504: "Gateway timeout (only when injected).",
    }
    out: dict[str, Any] = {}
    for status in statuses:
        headers = _RETRY_AFTER if status in (429, 503) else None
        if status == 405:
            headers = {"Allow": {"schema": {"type": "string"}}}
        out[str(status)] = _json(_ref("Error"), texts[status], headers)
    return out


def build_openapi(rules: Mapping[str, EntityRule], *, tenant: str, scope: str) -> dict[str, Any]:
    """The document of a sandbox accepting ``rules``, issuing tokens of ``tenant`` for
    ``scope``."""
    _, top = models_json_schema(
        [(rule.model, "validation") for rule in rules.values()],
        by_alias=True,
        ref_template=_REF,
    )
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    schemas.update(_common_schemas())
    paths: dict[str, Any] = {}
    push_errors = _errors(400, 401, 413, 415, 429, 500, 502, 503, 504)
    for rule in rules.values():
        model_name = rule.model.__name__
        paths[API_BASE_PATH + rule.path] = {
            "post": {
                "operationId": "push_" + rule.name.replace("-", "_"),
                "summary": f"Push {rule.name} records (one batch)",
                "description": (
                    f"A JSON array of {rule.name} records. Accepted pushes answer a Batch "
                    f"ID at once; each record is then processed asynchronously: a record "
                    f"that breaks its schema ends FailedValidation, a record whose parents "
                    f"are missing waits in New with missingDependencies=true. Upsert by "
                    f"{rule.id_field}; eventType ...Deleted deletes."
                ),
                "tags": ["ingestion"],
                "security": [{"bearer": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "array",
                                "minItems": 1,
                                "items": _ref(model_name),
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(_ref("BatchAccepted"), "Accepted: one batch, its Batch ID."),
                    **push_errors,
                },
            }
        }
    page_params = [
        {
            "name": "skip",
            "in": "query",
            "required": False,
            "description": "Items to skip (default 0).",
            "schema": {"type": "integer", "minimum": 0, "maximum": 999999999},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": f"Items to return (default {DEFAULT_PAGE_LIMIT}).",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_LIMIT},
        },
    ]
    date = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
    query_errors = _errors(400, 401, 429, 500, 502, 503, 504)
    paths[API_BASE_PATH + "/batch"] = {
        "get": {
            "operationId": "list_batches",
            "summary": "List batches, oldest first",
            "tags": ["batches"],
            "security": [{"bearer": []}],
            "parameters": [
                {"name": "batchId", "in": "query", "required": False, "schema": {"type": "string"}},
                {
                    "name": "createdFrom",
                    "in": "query",
                    "required": False,
                    "description": "Created on or after this day (UTC).",
                    "schema": date,
                },
                {
                    "name": "createdTo",
                    "in": "query",
                    "required": False,
                    "description": "Created on or before this day (UTC).",
                    "schema": date,
                },
                {
                    "name": "createdAt",
                    "in": "query",
                    "required": False,
                    "description": "Created on this day (UTC).",
                    "schema": date,
                },
                *page_params,
            ],
            "responses": {
                "200": _json(_ref("BatchList"), "The matching batches."),
                **query_errors,
            },
        }
    }
    paths[API_BASE_PATH + "/batch/{batchId}/inbound"] = {
        "get": {
            "operationId": "list_inbound_messages",
            "summary": "List the inbound messages (one per pushed record) of a batch",
            "tags": ["batches"],
            "security": [{"bearer": []}],
            "parameters": [
                {"name": "batchId", "in": "path", "required": True, "schema": {"type": "string"}},
                {
                    "name": "status",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": list(STATUSES)},
                },
                {
                    "name": "missingDependencies",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "boolean"},
                },
                *page_params,
            ],
            "responses": {
                "200": _json(_ref("MessageList"), "The batch's messages, in push order."),
                **_errors(400, 401, 404, 429, 500, 502, 503, 504),
            },
        }
    }
    # The sandbox serves one tenant: its token path is concrete (another tenant is a 400).
    token_path = f"/{tenant}/oauth2/v2.0/token"
    paths[token_path] = {
        "post": {
            "operationId": "get_token",
            "summary": "OAuth 2.0 client credentials (Microsoft Entra ID v2 shape)",
            "tags": ["auth"],
            "security": [],
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "required": ["grant_type", "client_id", "client_secret", "scope"],
                            "properties": {
                                "grant_type": {"type": "string", "enum": ["client_credentials"]},
                                "client_id": {"type": "string", "minLength": 1},
                                "client_secret": {"type": "string", "minLength": 1},
                                "scope": {
                                    "type": "string",
                                    "pattern": r"^\S+/\.default$",
                                    "description": "The resource followed by /.default.",
                                },
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": _json(_ref("Token"), "An access token."),
                "400": _json(_ref("EntraError"), "Bad request (invalid_request, invalid_scope, "
                             "unauthorized_client, unsupported_grant_type, tenant not found)."),
                "401": _json(_ref("EntraError"), "invalid_client: wrong or expired secret."),
                "413": _json(_ref("Error"), "The form is too large."),
                "429": _json(_ref("EntraError"), "Throttled (only when injected).", _RETRY_AFTER),
                "500": _json(_ref("EntraError"), "Server error (only when injected)."),
                "502": _json(_ref("EntraError"), "Server error (only when injected)."),
                "503": _json(_ref("EntraError"), "Unavailable (only when injected).", _RETRY_AFTER),
                "504": _json(_ref("EntraError"), "Server error (only when injected)."),
            },
        }
    }  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "BuildingMinds ingestion API (buildingminds_async sandbox)",
            "version": "1.0.0",
            "description": (
                "A local emulator of the BuildingMinds ingestion API. Any other method on "
                "these paths answers 405 with an Allow header; an unknown path answers 404. "
                "Errors are JSON: {error, message[, details]} on the API, Entra ID's "
                "{error, error_description, error_codes, ...} on the token endpoint. 5xx "
                "answers happen only when faults are injected. Admin endpoints under "
                "/_sandbox/ (ledger, config, faults, reset) are not part of the API and not "
                "described here."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "oauth2",
                    "description": "A Bearer token from the client credentials flow.",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": token_path,
                            "scopes": {f"{scope}/.default": "the ingestion API"},
                        }
                    },
                }
            },
        },
    }


def _common_schemas() -> dict[str, Any]:
    status = {"type": "string", "enum": list(STATUSES)}
    stamp = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"}
    return {
        "Error": {
            "type": "object",
            "required": ["error", "message"],
            "properties": {
                "error": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "array", "items": {"type": "object"}},
            },
        },
        "EntraError": {
            "type": "object",
            "required": ["error", "error_description", "error_codes"],
            "properties": {
                "error": {"type": "string"},
                "error_description": {"type": "string"},
                "error_codes": {"type": "array", "items": {"type": "integer"}},
                "timestamp": {"type": "string"},
                "trace_id": {"type": "string"},
                "correlation_id": {"type": "string"},
                "error_uri": {"type": "string"},
            },
        },
        "Token": {
            "type": "object",
            "required": ["token_type", "expires_in", "ext_expires_in", "access_token"],
            "properties": {
                "token_type": {"const": "Bearer"},
                "expires_in": {"type": "integer"},
                "ext_expires_in": {"type": "integer"},
                "access_token": {"type": "string"},
            },
        },
        "BatchAccepted": {
            "type": "object",
            "required": ["batchId"],
            "properties": {"batchId": {"type": "string"}},
        },
        "Batch": {
            "type": "object",
            "required": [
                "batchId",
                "entity",
                "createdAt",
                "recordCount",
                "status",
                "statusCounts",
            ],
            "properties": {
                "batchId": {"type": "string"},
                "entity": {"type": "string"},
                "createdAt": stamp,
                "createdAtPrecise": {
                    "type": "string",
                    "description": "createdAt with microseconds.",
                },
                "updatedAt": stamp,
                "recordCount": {"type": "integer", "minimum": 1},
                "status": {
                    "type": "string",
                    "description": "New (all New), InProgress (some not final), Completed "
                    "(all succeeded), CompletedWithErrors (some failed), Failed (all failed).",
                    "enum": ["New", "InProgress", "Completed", "CompletedWithErrors", "Failed"],
                },
                "statusCounts": {
                    "type": "object",
                    "propertyNames": status,
                    "additionalProperties": {"type": "integer", "minimum": 1},
                },
                "missingDependencies": {
                    "type": "integer",
                    "description": "Records waiting for a parent.",
                },
            },
        },
        "InboundMessage": {
            "type": "object",
            "required": [
                "messageId",
                "batchId",
                "entity",
                "index",
                "externalId",
                "status",
                "missingDependencies",
                "errorMessage",
                "createdAt",
                "updatedAt",
            ],
            "properties": {
                "messageId": {"type": "string"},
                "batchId": {"type": "string"},
                "entity": {"type": "string"},
                "index": {"type": "integer", "description": "Position in the pushed array."},
                "externalId": {"type": ["string", "null"]},
                "eventType": {"type": ["string", "null"]},
                "status": status,
                "missingDependencies": {"type": "boolean"},
                "missingReferences": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "entity": {"type": "string"},
                            "externalId": {"type": "string"},
                        },
                    },
                },
                "errorMessage": {"type": ["string", "null"]},
                "createdAt": stamp,
                "updatedAt": stamp,
            },
        },
        "BatchList": _envelope("Batch"),
        "MessageList": _envelope("InboundMessage"),
    }


def _envelope(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["message", "totalCount", "data"],
        "properties": {
            "message": {"type": "string"},
            "totalCount": {"type": "integer", "minimum": 0},
            "data": {"type": "array", "items": _ref(item)},
        },
    }
