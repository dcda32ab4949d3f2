"""The OpenAPI 3 description of the JSON API (served at /api/openapi.json)."""

from __future__ import annotations

from typing import Any

from ogshot_client.options import BY_NAME, KEYED, MAX_SELECTOR, Kind, Option

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}},
}
_STATUS = {"type": "string", "enum": ["queued", "running", "done", "failed"]}


def _schema(option: Option) -> dict[str, Any]:
    """The JSON schema of one option's value in a pre-warm body."""
    low, high = option.bounds
    if option.kind is Kind.INTEGER:
        schema: dict[str, Any] = {"type": "integer", "minimum": low, "maximum": high}
    elif option.kind is Kind.CHOICE:
        schema = {"type": "string", "enum": list(option.choices)}
    elif option.kind is Kind.SELECTOR:
        schema = {"type": "string", "maxLength": MAX_SELECTOR}
    elif option.kind is Kind.SELECTORS:
        item = {"type": "string", "maxLength": MAX_SELECTOR, "description": "A CSS selector list."}
        schema = {"type": "array", "maxItems": high, "items": item}
    elif option.kind is Kind.SWITCH:
        schema = {"type": "boolean"}
    else:
        schema = {"type": "string", "pattern": f"^[A-Za-z0-9._:-]{{{low},{high}}}$"}
    return {**schema, "description": option.help[0].upper() + option.help[1:] + "."}


# The image and render options, as the image URL names them (docs/pages.md).
_OPTIONS = {option.query: _schema(option) for option in KEYED}
_VERSION = {
    **_schema(BY_NAME["version"]),
    "description": "The image's version (v= in its URL): the render records it, and a "
    "request with it afterwards is a hit. Not a render option: it names the same image.",
}
_WEBHOOK_URL = {
    "type": "string",
    "maxLength": 2000,
    "description": "Where to POST each job's JSON when it ends, signed (Ogshot-Signature): "
    "an http(s) URL whose host is in the server's OGSHOT_WEBHOOK_HOSTS, else 400.",
}
_WEBHOOK_STATUS = {
    "type": "string",
    "nullable": True,
    "description": "How the last webhook call of the job went: pending, delivered, "
    "retrying, failed or given up, with what it met and the attempts made.",
}


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI document."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "ogshot API",
            "version": "1",
            "description": "Pre-warm social preview images and follow their render jobs.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": _ERROR,
                "PrewarmRequest": {
                    "type": "object",
                    "required": ["urls"],
                    "additionalProperties": False,
                    "properties": {
                        "urls": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 1000,
                            "items": {
                                "oneOf": [
                                    {"type": "string"},
                                    {
                                        "type": "object",
                                        "description": "A URL with options of its own, "
                                        "which win over the batch's.",
                                        "required": ["url"],
                                        "additionalProperties": False,
                                        "properties": {
                                            "url": {"type": "string"},
                                            "v": _VERSION,
                                            **_OPTIONS,
                                        },
                                    },
                                ]
                            },
                        },
                        "v": _VERSION,
                        "webhook_url": _WEBHOOK_URL,
                        **_OPTIONS,
                    },
                },
                "PrewarmJob": {
                    "type": "object",
                    "required": ["url", "key", "id", "status", "image_url"],
                    "properties": {
                        "url": {"type": "string"},
                        "key": {"type": "string"},
                        "id": {"type": "string"},
                        "status": _STATUS,
                        "version": {"type": "string", "nullable": True},
                        "image_url": {"type": "string"},
                    },
                },
                "PrewarmResponse": {
                    "type": "object",
                    "required": ["jobs", "rejected"],
                    "properties": {
                        "jobs": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/PrewarmJob"},
                        },
                        "rejected": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["url", "reason"],
                                "properties": {
                                    "url": {"type": "string"},
                                    "reason": {"type": "string"},
                                },
                            },
                        },
                    },
                },
                "Job": {
                    "type": "object",
                    "required": ["id", "url", "status", "error", "image_url", "render_ms"],
                    "properties": {
                        "id": {"type": "string"},
                        "url": {"type": "string"},
                        "status": _STATUS,
                        "error": {"type": "string", "nullable": True},
                        "version": {
                            "type": "string",
                            "nullable": True,
                            "description": "The last version a pre-warm of the job asked for.",
                        },
                        "image_url": {"type": "string", "nullable": True},
                        "webhook": _WEBHOOK_STATUS,
                        "render_ms": {"type": "integer", "nullable": True},
                        "readiness": {
                            "type": "string",
                            "nullable": True,
                            "description": "How the wait for the page ended: ready, "
                            "timeout: <what was still pending>, error: <the page's script "
                            "error>, or off (OGSHOT_READY_TIMEOUT=0).",
                        },
                        "clipped": {
                            "type": "boolean",
                            "description": "An element capture larger than 2400x2400 "
                            "pixels, cut to that.",
                        },
                    },
                },
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/prewarm": {
                "post": {
                    "summary": "Render these pages again (debounced per image)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/PrewarmRequest"}
                            }
                        },
                    },
                    "responses": {
                        "202": {
                            "description": "Accepted URLs queued, refused ones listed",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/PrewarmResponse"}
                                }
                            },
                        },
                        "400": _error_response("Malformed body"),
                        "401": _error_response("Missing or wrong bearer token"),
                        "413": {"description": "Body too large"},
                        "503": _error_response("Queue unavailable; nothing was accepted"),
                    },
                }
            },
            "/api/jobs/{job_id}": {
                "get": {
                    "summary": "A render job's status",
                    "parameters": [
                        {
                            "name": "job_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The job",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Job"}}
                            },
                        },
                        "401": _error_response("Missing or wrong bearer token"),
                        "404": _error_response("Unknown or expired job"),
                        "503": _error_response("Queue unavailable"),
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "The OpenAPI document"}},
                }
            },
        },
    }
