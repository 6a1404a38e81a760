"""JSON everywhere: error handlers and request-body helpers shared by both Flask apps."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Request, Response, jsonify
from werkzeug.exceptions import HTTPException

from common.contract import ENGINES
from common.errors import ApiError, BadRequest
from common.fastpath import mirrored

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
    @mirrored  # a fast route never redirects
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
    return json_object(request.get_data(cache=True), request.path)


def json_object(raw: bytes, path: str) -> dict[str, Any]:
    """``raw`` as the JSON object a request to ``path`` must send, or BadRequest saying what is wrong."""
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
    for name, check in OPTIONAL_FIELDS.get(path, {}).items():
        check(body.get(name), name)
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
    """A JSON bool, or a form string like 'true'/'1'/'yes' (any case); null or blank gives the default."""
    if value is None or (isinstance(value, str) and not value.strip()):
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


def _text_field(value: Any, field: str) -> None:
    optional_text({field: value}, field, "")


def _flag_field(value: Any, field: str) -> None:
    optional_bool(value, field)


def _engine_field(value: Any, field: str) -> None:
    engine_field(value, None)


# The optional fields of each JSON endpoint (openapi.yaml), checked by ``json_body`` wherever the
# service reads them, so both services answer a wrong type with 400 the same way, including a
# field a service accepts and ignores (``split`` on a worker). Absent or null is the default.
OPTIONAL_FIELDS: dict[str, dict[str, Callable[[Any, str], None]]] = {
    "/generate": {"model": _text_field, "engine": _engine_field, "lint": _flag_field, "context": _text_field, "split": _flag_field},
    "/explain": {"model": _text_field},
    "/generate-code": {"model": _text_field},
    "/explain-code": {"model": _text_field},
}
# the same for the form fields of multipart endpoints (a form field is always a string)
FORM_FIELDS: dict[str, dict[str, Callable[[Any, str], None]]] = {
    "/upload": {"engine": _engine_field, "lint": _flag_field, "split": _flag_field},
}


@dataclass(frozen=True)
class UploadedScript:
    """A script sent as multipart field ``file``: its text, its bytes as sent, and its name."""

    text: str
    raw: bytes
    filename: str
    mimetype: str


def uploaded_script(request: Request) -> UploadedScript:
    """The UTF-8 script of an ``/upload`` request, or BadRequest saying what is wrong."""
    for name, check in FORM_FIELDS.get(request.path, {}).items():
        check(request.form.get(name), name)
    upload = request.files.get("file")
    if upload is None and "file" in request.form:  # a text part without a filename (curl -F 'file=<setup.sh')
        text = request.form["file"].removeprefix("\ufeff")
        if not text.strip():
            raise BadRequest("field 'file' is empty")
        return UploadedScript(text, _encodable(text, "file").encode("utf-8"), "", "text/x-shellscript")
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
