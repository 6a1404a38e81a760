"""What travels with a job to its workers: its request id and the client's forwarding chain.

design: the web layer puts the headers on the job's ``Ticket`` (``forward_headers``: its
``X-Request-Id``, and ``X-Forwarded-For``/``Forwarded`` with the client appended, from
``common.tracing``), and the ticket is the job's cancel signal all the way down, a split's
chunks included (``balancer.jobs.ticket_in`` finds it). ``TracingClient`` wraps the worker
client and adds the headers of the ticket it is handed to every request of that job, so the
proxy and the fan-out need not carry them. Health probes carry no ticket and no headers.
"""

from __future__ import annotations

from dataclasses import dataclass

from balancer.client import WorkerClient, WorkerReply, WorkerRequest
from balancer.jobs import ticket_in
from balancer.state import CancelSignal


@dataclass(frozen=True)
class TracingClient:
    """A ``WorkerClient`` that sends each job's ticket's ``forward_headers`` with it."""

    inner: WorkerClient

    def send(self, request: WorkerRequest, *, cancel: CancelSignal | None = None) -> WorkerReply:
        ticket = ticket_in(cancel) if cancel is not None else None
        if ticket is not None and ticket.forward_headers:
            request = request.with_headers(ticket.forward_headers)
        return self.inner.send(request, cancel=cancel)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()
