"""JSON everywhere: error handlers and request-body helpers shared by both Flask apps."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any

from flask import Flask, Request, Response, jsonify
from werkzeug.exceptions import HTTPException

from common.contract import ENGINES
from common.errors import ApiError, BadRequest

log = logging.getLogger(__name__)


def install_json_errors(app: Flask) -> None:
    """Render every error, ours or werkzeug's, as ``{"error": ...}`` with an honest status."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        response = jsonify(exc.to_json())
        response.status_code = exc.status
        response.headers.update(exc.headers())
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        message = {
            404: "no such endpoint; see GET / for the web UI and the README for the API",
            405: f"method not allowed; this endpoint accepts {', '.join(sorted(exc.valid_methods or [])) if hasattr(exc, 'valid_methods') else 'other methods'}",
            413: "request body is too large; send at most MAX_CONTENT_LENGTH bytes",
        }.get(exc.code or 500, exc.description or exc.name)
        response = jsonify({"error": message})
        response.status_code = exc.code or 500
        for key, value in (exc.get_response().headers or {}).items():
            if key.lower() in {"allow", "retry-after"}:
                response.headers[key] = value
        return response

    @app.after_request
    def _json_redirects(response: Response) -> Response:
        # werkzeug answers routing redirects (e.g. an empty path -> "/") with an HTML page
        if 300 <= response.status_code < 400 and response.mimetype == "text/html":
            location = response.headers.get("Location", "/")
            response.set_data(json.dumps({"error": f"moved to {location}", "location": location}))
            response.mimetype = "application/json"
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.error("unhandled error", exc_info=exc)
        response = jsonify({"error": f"internal error: {type(exc).__name__}; see the service log"})
        response.status_code = 500
        return response


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or BadRequest saying what is wrong with it."""
    raw = request.get_data(cache=True)
    if not raw:
        raise BadRequest("request body is empty; send a JSON object with Content-Type: application/json")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("request body is not valid UTF-8") from None
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("request body is nested too deeply; send a flat JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest(f"request body must be a JSON object, not {type(body).__name__}")
    return body


def require_text(body: dict[str, Any], field: str) -> str:
    """A required, non-blank string field."""
    if field not in body or body[field] is None:
        raise BadRequest(f"missing field '{field}'")
    value = body[field]
    if not isinstance(value, str):
        raise BadRequest(f"field '{field}' must be a string, not {type(value).__name__}")
    if not value.strip():
        raise BadRequest(f"field '{field}' is empty")
    return _encodable(value, field)


def optional_text(body: dict[str, Any], field: str, default: str) -> str:
    """An optional string field; blank or absent gives the default."""
    value = body.get(field)
    if value is None:
        return default
    if not isinstance(value, str):
        raise BadRequest(f"field '{field}' must be a string, not {type(value).__name__}")
    return _encodable(value, field).strip() or default


def _encodable(value: str, field: str) -> str:
    """``value`` when it is real text; a lone surrogate (JSON "\\ud800") would be lost on the way."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadRequest(f"field '{field}' holds an unpaired surrogate (\\u{ord(value[exc.start]):04x}) at {exc.start}; send valid Unicode text") from None
    return value


def optional_bool(value: Any, field: str, default: bool = False) -> bool:
    """A JSON bool, or a form string like 'true'/'1'/'yes'."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "yes", "on"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"false", "0", "no", "off"}:
        return False
    raise BadRequest(f"field '{field}' must be true or false, not {value!r}")


def engine_field(value: Any, default: str | None) -> str | None:
    """The ``engine`` field (JSON or form): one of ENGINES, or ``default`` when absent or blank."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if not isinstance(value, str) or value.strip().lower() not in ENGINES:
        raise BadRequest(f"field 'engine' must be one of {', '.join(ENGINES)}, got {value!r}")
    return value.strip().lower()


@dataclass(frozen=True)
class UploadedScript:
    """A script sent as multipart field ``file``: its text, its bytes as sent, and its name."""

    text: str
    raw: bytes
    filename: str
    mimetype: str


def uploaded_script(request: Request) -> UploadedScript:
    """The UTF-8 script of an ``/upload`` request, or BadRequest saying what is wrong."""
    upload = request.files.get("file")
    if upload is None:
        raise BadRequest("missing file: send the script as multipart/form-data field 'file'")
    raw = upload.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"file '{upload.filename}' is not UTF-8 text (byte {exc.start}); convert it to UTF-8") from None
    if not text.strip():
        raise BadRequest(f"file '{upload.filename}' is empty")
    return UploadedScript(text, raw, os.path.basename(upload.filename or ""), upload.mimetype or "text/x-shellscript")
