"""The OpenAPI 3 description of the JSON API (served at /api/openapi.json)."""

from __future__ import annotations

from typing import Any

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}},
}
_STATUS = {"type": "string", "enum": ["queued", "running", "done", "failed"]}


_SELECTOR = {"type": "string", "maxLength": 300, "description": "A CSS selector list."}
# The image and render options, as the image URL names them (docs/pages.md).
_OPTIONS: dict[str, Any] = {
    "w": {"type": "integer", "minimum": 200, "maximum": 2400},
    "h": {"type": "integer", "minimum": 100, "maximum": 2400},
    "scale": {"type": "integer", "enum": [1, 2]},
    "format": {"type": "string", "enum": ["png", "jpg", "jpeg", "webp"]},
    "wait_for": {**_SELECTOR, "description": "Render once an element matching it is shown."},
    "delay": {
        "type": "integer",
        "minimum": 0,
        "maximum": 10000,
        "description": "Milliseconds to wait once the page is ready.",
    },
    "hide": {
        "type": "array",
        "maxItems": 10,
        "items": _SELECTOR,
        "description": "Selector lists whose elements are hidden.",
    },
    "selector": {**_SELECTOR, "description": "Capture this element instead of the viewport."},
    "dark": {"type": "boolean", "description": "The page sees prefers-color-scheme: dark."},
}


_VERSION = {
    "type": "string",
    "pattern": "^[A-Za-z0-9._:-]{1,64}$",
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
