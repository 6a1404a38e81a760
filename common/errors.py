"""The one error tree of the project; each error knows its HTTP status.

    ApiError                      (500, never raised for client input)
    ├── BadRequest                400  not JSON, missing/empty/wrong-type field, not UTF-8
    ├── Unauthorized              401  no or a wrong bearer token
    ├── Forbidden                 403  not allowed from here
    ├── NotFound                  404  no such thing here
    │   └── ModelNotFound              the requested model is installed nowhere
    ├── Conflict                  409  the change clashes with the current state
    ├── RequestTimeout            408  the request body did not arrive within BODY_TIMEOUT
    ├── PayloadTooLarge           413  body over MAX_CONTENT_LENGTH
    ├── TooManyRequests           429  an API key's rate or concurrency limit, with Retry-After
    ├── ClientGone                499  the client left; its job was cancelled (logged, never sent)
    ├── ServiceUnavailable        503  with Retry-After
    │   ├── QueueFull                  the waiting queue is full
    │   ├── QueueTimeout               waited longer than the queue timeout
    │   ├── LLMUnavailable             the LLM cannot be reached
    │   ├── Draining                   this worker is shutting down: send the job elsewhere
    │   └── NoBackendAvailable         no online backend can take the job
    ├── UpstreamError             502  the LLM or a worker answered with an error
    │   ├── LLMError
    │   ├── InvalidPlaybook            the model never produced a valid playbook
    │   └── ChunkFailed                a split chunk failed for good
    └── UpstreamTimeout           504  the LLM or a worker did not answer in time
        └── LLMTimeout

Adapters raise these once (``raise LLMUnavailable(...) from exc``); the web layer
renders any of them as ``{"error": message}`` with the status, see ``common.http``.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error with an HTTP status and a message that tells the client what to do."""

    status: int = 500

    def __init__(self, message: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = dict(extra or {})

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message, **self.extra}

    def headers(self) -> dict[str, str]:
        """Response headers: ``X-Backend`` when the error names the worker that caused it."""
        backend = self.extra.get("backend")
        return {"X-Backend": backend} if isinstance(backend, str) else {}


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "WWW-Authenticate": "Bearer"}


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class ModelNotFound(NotFound):
    def __init__(self, model: str, message: str | None = None) -> None:
        super().__init__(
            message or f"model '{model}' is not installed; pull it first (ollama pull {model})",
            extra={"model": model},
        )
        self.model = model


class RequestTimeout(ApiError):
    status = 408


class PayloadTooLarge(ApiError):
    status = 413


class TooManyRequests(ApiError):
    """An API key went over its rate or concurrency limit; ``Retry-After`` says when to come back."""

    status = 429

    def __init__(self, message: str, *, retry_after_s: int, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message, extra=extra)
        self.retry_after_s = max(1, int(retry_after_s))

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "Retry-After": str(self.retry_after_s)}


class ClientGone(ApiError):
    status = 499


class ServiceUnavailable(ApiError):
    status = 503

    def __init__(self, message: str, *, retry_after_s: int = 5, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message, extra=extra)
        self.retry_after_s = max(1, int(retry_after_s))

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "Retry-After": str(self.retry_after_s)}


class QueueFull(ServiceUnavailable):
    pass


class QueueTimeout(ServiceUnavailable):
    pass


class LLMUnavailable(ServiceUnavailable):
    pass


class NoBackendAvailable(ServiceUnavailable):
    pass


class Draining(ServiceUnavailable):
    """The worker is finishing its jobs before it stops; the balancer sends new work elsewhere."""

    def __init__(self, message: str, *, retry_after_s: int = 5) -> None:
        super().__init__(message, retry_after_s=retry_after_s, extra={"draining": True})


class UpstreamError(ApiError):
    status = 502


class LLMError(UpstreamError):
    pass


class InvalidPlaybook(UpstreamError):
    pass


class ChunkFailed(UpstreamError):
    pass


class UpstreamTimeout(ApiError):
    status = 504


class LLMTimeout(UpstreamTimeout):
    pass
