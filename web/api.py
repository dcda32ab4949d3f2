"""The JSON API: pre-warm images after a page changes, and follow the jobs."""

from __future__ import annotations

import hmac
import json
from typing import Any

from flask import Blueprint, Response, jsonify, request

from shared.keys import InvalidOptions, RenderRequest
from shared.redisconn import QueueUnavailable
from shared.urlpolicy import InvalidURL, RefusedURL
from web import services
from web.openapi import openapi_document
from web.prewarm import image_url, prewarm_one

bp = Blueprint("api", __name__, url_prefix="/api")
MAX_URLS = 1000
OPTIONS = ("w", "h", "scale", "format")


def error(status: int, reason: str, **headers: str) -> Response:
    """Answer with ``{"error": reason}``."""
    response = jsonify({"error": reason})
    response.status_code = status
    response.headers.update(headers)
    return response


def _token_ok(tokens: tuple[str, ...]) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    given = token.strip().encode()
    # Compare with every token, in constant time, whatever matches first.
    matched = False
    for candidate in tokens:
        matched |= hmac.compare_digest(candidate.encode(), given)
    return matched


@bp.before_request
def require_token() -> Response | None:
    """Refuse API calls without a valid bearer token (the schema itself is public)."""
    if request.endpoint == "api.openapi":
        return None
    tokens = services().config.api_tokens
    if not tokens:
        return error(401, "the API is closed: the server has no OGSHOT_API_TOKENS")
    if not _token_ok(tokens):
        return error(
            401, "missing or wrong bearer token", **{"WWW-Authenticate": 'Bearer realm="ogshot"'}
        )
    return None


@bp.errorhandler(QueueUnavailable)
def queue_down(exc: QueueUnavailable) -> Response:
    """Redis is down: nothing was accepted."""
    return error(503, f"queue unavailable, try again later: {exc}")


@bp.get("/openapi.json")
def openapi() -> Response:
    """Serve the OpenAPI 3 description of this API."""
    return jsonify(openapi_document())


class InvalidBody(ValueError):  # noqa: N818 - reads as the outcome: 400
    """The request body is not a valid pre-warm request (answered with 400)."""


@bp.errorhandler(InvalidBody)
@bp.errorhandler(InvalidOptions)
def bad_body(exc: ValueError) -> Response:
    """Say what is wrong with the body."""
    return error(400, str(exc))


def _parse_body() -> tuple[list[str], dict[str, Any]]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidBody("body must be a JSON object with a list of urls")
    unknown = sorted(set(body) - {"urls", *OPTIONS})
    if unknown:
        raise InvalidBody(f"unknown field(s): {', '.join(unknown)}")
    urls = body.get("urls")
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
        raise InvalidBody("urls must be a non-empty list of strings")
    if len(urls) > MAX_URLS:
        raise InvalidBody(f"at most {MAX_URLS} urls per call, got {len(urls)}")
    options = {k: body.get(k) for k in OPTIONS}
    for name in ("w", "h", "scale"):
        if name in body and (type(body[name]) is not int):
            raise InvalidBody(f"{name} must be an integer")
    if "format" in body and not isinstance(body["format"], str):
        raise InvalidBody("format must be a string: png, jpg, jpeg or webp")
    # Validate the options once, before any URL is looked at.
    RenderRequest.build("", width=options["w"], height=options["h"], scale=options["scale"],
                        format=options["format"])  # fmt: skip
    return urls, options


@bp.post("/prewarm")
def prewarm() -> Response:
    """Queue a forced render of each URL (gathered per image), reporting refused ones."""
    urls, options = _parse_body()
    svc = services()
    jobs: list[dict[str, Any]] = []
    rejected: list[dict[str, str]] = []
    for raw in urls:
        try:
            wanted = RenderRequest.build(
                svc.policy.check(raw),
                width=options["w"],
                height=options["h"],
                scale=options["scale"],
                format=options["format"],
            )
        except (InvalidURL, RefusedURL) as exc:
            rejected.append({"url": raw, "reason": str(exc)})
            continue
        jobs.append(prewarm_one(svc, wanted))
    response = jsonify({"jobs": jobs, "rejected": rejected})
    response.status_code = 202
    return response


@bp.get("/jobs/<job_id>")
def job(job_id: str) -> Response:
    """Report a job's status."""
    record = services().jobs.get(job_id) if len(job_id) <= 64 else None
    if record is None:
        return error(404, f"no job {job_id[:64]}")
    payload = json.loads(record.get("payload") or "{}")
    url = payload.get("url") or record.get("url", "")
    return jsonify(
        {
            "id": job_id,
            "url": url,
            "status": record.get("status", "queued"),
            "error": record.get("error") or None,
            "image_url": image_url(RenderRequest.from_payload(payload)) if payload else None,
            "render_ms": int(record["render_ms"]) if record.get("render_ms") else None,
            "readiness": record.get("readiness") or None,
        }
    )
