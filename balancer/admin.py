"""Membership at run time: ``/admin`` endpoints to list, add, remove, drain and undrain backends,
and to reload BACKENDS_FILE (also on SIGHUP).

design: only an admin chooses where the balancer connects. With ADMIN_TOKEN set every call
needs ``Authorization: Bearer <token>`` (compared in constant time); without it only loopback
clients are answered, judged by the socket's peer address, never by a header. Jobs in flight
on a removed or drained backend finish; the pool forgets a removed one after its last job.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request

from balancer.pool import BackendPool
from balancer.settings import BackendSpec, ConfigError, Settings, normalize_url
from balancer.status import backend_status
from common.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from common.http import json_body

log = logging.getLogger(__name__)


def reload_backends(settings: Settings, pool: BackendPool) -> dict[str, list[str]]:
    """Make the pool's membership what BACKENDS_FILE says now; ConfigError when it cannot be read."""
    added, removed, updated = pool.apply(settings.reload_backends())
    log.info("backends reloaded from %s: added %s, removed %s, updated %s",
             settings.backends_file, added or "none", removed or "none", updated or "none")
    return {"added": added, "removed": removed, "updated": updated}


def install_admin(app: Flask, settings: Settings, pool: BackendPool) -> None:
    """Register the /admin endpoints on ``app``."""
    admin = Blueprint("admin", __name__, url_prefix="/admin")

    @admin.before_request
    def authorize() -> None:
        if g.get("admin_ok"):  # an admin API key, checked by balancer.auth
            return
        if settings.admin_token:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("the admin endpoints need Authorization: Bearer <ADMIN_TOKEN>")
            if not hmac.compare_digest(token.strip().encode("utf-8", "replace"), settings.admin_token.encode("utf-8")):
                raise Unauthorized("wrong admin token")
        elif not _loopback(request.remote_addr):
            raise Forbidden("the admin endpoints answer loopback clients only; set ADMIN_TOKEN to allow others")

    def entry(url: str) -> dict[str, Any]:
        for backend in pool.snapshot().backends:
            if backend.url == url:
                return backend_status(backend)
        raise NotFound(f"no backend {url}")

    def url_field(body: dict[str, Any]) -> str:
        try:
            return normalize_url(body.get("url"))
        except ConfigError as exc:
            raise BadRequest(str(exc)) from None

    @admin.get("/backends")
    def list_backends() -> Response:
        return jsonify({"backends": [backend_status(b) for b in pool.snapshot().backends]})

    @admin.post("/backends")
    def add_backend() -> Response:
        body = json_body(request)
        unknown = sorted(set(body) - {"url", "slots", "weight"})
        if unknown:
            raise BadRequest(f"unknown field(s) {unknown}; send url, and optionally slots and weight")
        try:
            spec = BackendSpec(url_field(body), body.get("slots"), body.get("weight", 1))
        except ConfigError as exc:
            raise BadRequest(str(exc)) from None
        try:
            pool.add(spec)
        except ValueError as exc:
            raise Conflict(str(exc)) from None
        response = jsonify({"backend": entry(spec.url)})
        response.status_code = 201
        return response

    @admin.delete("/backends")
    def remove_backend() -> Response:
        url = url_field(json_body(request))
        try:
            in_flight = pool.remove(url)
        except KeyError:
            raise NotFound(f"no backend {url}") from None
        return jsonify({"removed": url, "in_flight": in_flight})

    @admin.post("/backends/drain")
    def drain_backend() -> Response:
        return set_draining(True)

    @admin.post("/backends/undrain")
    def undrain_backend() -> Response:
        return set_draining(False)

    def set_draining(draining: bool) -> Response:
        url = url_field(json_body(request))
        try:
            pool.set_draining(url, draining)
        except KeyError:
            raise NotFound(f"no backend {url}") from None
        return jsonify({"backend": entry(url)})

    @admin.post("/reload")
    def reload() -> Response:
        try:
            return jsonify(reload_backends(settings, pool))
        except ConfigError as exc:
            raise Conflict(f"cannot reload: {exc}") from None

    app.register_blueprint(admin)


def _loopback(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback
