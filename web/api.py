"""The JSON API: pre-warm images after a page changes, and follow the jobs."""

from __future__ import annotations

import hmac
import json
from typing import Any, NamedTuple

from flask import Blueprint, Response, jsonify, request
from ogshot_client.options import check_version

from shared.keys import QUERY_NAMES, InvalidOptions, RenderRequest
from shared.optiontypes import LIST_OF_STRINGS, OPTION_TYPES, wrong_type
from shared.redisconn import QueueUnavailable
from shared.urlpolicy import InvalidURL, RefusedURL
from shared.webhooks import RefusedWebhook, check_webhook_url
from web import services
from web.openapi import openapi_document
from web.prewarm import image_url, prewarm_one

bp = Blueprint("api", __name__, url_prefix="/api")
MAX_URLS = 1000
OPTIONS = tuple(QUERY_NAMES)


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
@bp.errorhandler(RefusedWebhook)
def bad_body(exc: ValueError) -> Response:
    """Say what is wrong with the body."""
    return error(400, str(exc))


def _checked_options(fields: dict[str, Any], where: str) -> dict[str, Any]:
    """The options among ``fields`` (JSON types checked, values validated)."""
    options = {k: fields[k] for k in OPTIONS if k in fields}
    for name, value in options.items():
        if expected := wrong_type(value, OPTION_TYPES[name]):
            kind = expected if expected == LIST_OF_STRINGS else f"JSON {expected}"
            raise InvalidBody(f"{where}{name} must be a {kind}")
    try:
        RenderRequest.from_options("", options)  # validated before any URL is looked at
    except InvalidOptions as exc:
        raise InvalidBody(f"{where}{exc}") from None
    return options


def _version(fields: dict[str, Any], where: str, default: str = "") -> str:
    """The image version (``v``) among ``fields``, checked; ``default`` when not given."""
    if "v" not in fields:
        return default
    try:
        return check_version(fields["v"])
    except InvalidOptions as exc:
        raise InvalidBody(f"{where}{exc}") from None


class Wanted(NamedTuple):
    """One URL of a pre-warm, as the body gives it."""

    url: str
    options: dict[str, Any]
    version: str


def _parse_body(webhook_hosts: tuple[str, ...]) -> tuple[list[Wanted], str]:
    """Each URL of the body with its options (the batch's, overridden by its own) and its
    version; the batch's webhook URL ("" without), checked against OGSHOT_WEBHOOK_HOSTS."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidBody("body must be a JSON object with a list of urls")
    unknown = sorted(set(body) - {"urls", "v", "webhook_url", *OPTIONS})
    if unknown:
        raise InvalidBody(f"unknown field(s): {', '.join(unknown)}")
    urls = body.get("urls")
    if not isinstance(urls, list) or not urls:
        raise InvalidBody("urls must be a non-empty list of URLs or {url, options} objects")
    if len(urls) > MAX_URLS:
        raise InvalidBody(f"at most {MAX_URLS} urls per call, got {len(urls)}")
    batch = _checked_options(body, "")
    batch_version = _version(body, "")
    webhook = body.get("webhook_url", "")
    if not isinstance(webhook, str):
        raise InvalidBody("webhook_url must be a JSON string")
    if "webhook_url" in body:
        check_webhook_url(webhook, webhook_hosts)
    wanted: list[Wanted] = []
    for index, item in enumerate(urls):
        if isinstance(item, str):
            wanted.append(Wanted(item, batch, batch_version))
            continue
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            raise InvalidBody(f"urls[{index}] must be a URL or an object with a url")
        unknown = sorted(set(item) - {"url", "v", *OPTIONS})
        if unknown:
            raise InvalidBody(f"urls[{index}]: unknown field(s): {', '.join(unknown)}")
        own = _checked_options(item, f"urls[{index}].")
        version = _version(item, f"urls[{index}].", batch_version)
        wanted.append(Wanted(item["url"], {**batch, **own}, version))
    return wanted, webhook


@bp.post("/prewarm")
def prewarm() -> Response:
    """Queue a forced render of each URL (gathered per image), reporting refused ones."""
    svc = services()
    jobs: list[dict[str, Any]] = []
    rejected: list[dict[str, str]] = []
    wanted_urls, webhook = _parse_body(svc.config.webhook_hosts)
    for raw, options, version in wanted_urls:
        try:
            url = svc.policy.check(raw)
            # The sites file's defaults, under the body's options (as under an image URL's).
            wanted = RenderRequest.from_options(url, {**svc.policy.site_defaults(url), **options})
        except (InvalidURL, RefusedURL, InvalidOptions) as exc:
            # InvalidOptions: this URL too long for its options (checked per URL, so the
            # batch's other URLs are not turned away after some were queued).
            rejected.append({"url": raw, "reason": str(exc)})
            continue
        jobs.append(prewarm_one(svc, wanted, version, webhook, raw))
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
            "version": record.get("version") or None,
            "image_url": image_url(RenderRequest.from_payload(payload), record.get("version", ""))
            if payload
            else None,
            "webhook": record.get("webhook") or None,
            "render_ms": int(record["render_ms"]) if record.get("render_ms") else None,
            "readiness": record.get("readiness") or None,
            "clipped": bool(record.get("clipped")),
        }
    )
