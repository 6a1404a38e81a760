"""HttpWorkerClient against real loopback sockets: what it sends, what it reads, how failures map
into the error tree, and cancellation over http and https."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from balancer.client import BackendUnreachable, HttpWorkerClient, WorkerRequest
from common.disconnect import CancelEvent
from common.errors import ClientGone, UpstreamTimeout
from tests.balancer.conftest import SilentServer
from tests.procs import free_port


class _Busy(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = b'{"error": "queue full"}'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Retry-After", "9")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def busy_worker() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_error_replies_are_replies_not_exceptions(busy_worker: str) -> None:
    reply = HttpWorkerClient().send(WorkerRequest(busy_worker, "POST", "/generate", 5, json={"commands": "ls"}))
    assert (reply.status, reply.json(), reply.retry_after) == (503, {"error": "queue full"}, "9")
    assert reply.content_type == "application/json"


def test_connection_refused_is_backend_unreachable_not_sent() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BackendUnreachable) as caught:
        HttpWorkerClient().send(WorkerRequest(url, "GET", "/queue-status", 2))
    assert caught.value.url == url and "connection refused" in caught.value.message
    assert caught.value.status == 502 and caught.value.sent is False


def test_no_reply_within_the_timeout_is_upstream_timeout() -> None:
    silent = SilentServer()
    try:
        with pytest.raises(UpstreamTimeout) as caught:
            HttpWorkerClient().send(WorkerRequest(silent.url, "POST", "/generate", 0.2, json={"commands": "ls"}))
        assert caught.value.status == 504 and "did not answer /generate within 0.2s" in caught.value.message
    finally:
        silent.close()


# --- a worker made of Flask on werkzeug's server: the parser the real worker uses ---------------

def _echo_app() -> Flask:
    app = Flask(__name__)

    @app.route("/<path:path>", methods=["GET", "POST"])
    def echo(path: str) -> Any:
        return jsonify({
            "method": request.method,
            "path": "/" + path,
            "json": request.get_json(silent=True),
            "form": request.form.to_dict(),
            "files": {name: [f.filename, f.read().decode(), f.mimetype] for name, f in request.files.items()},
            "content_type": request.content_type,
        })

    return app


@pytest.fixture
def echo_worker() -> Iterator[str]:
    server = make_server("127.0.0.1", 0, _echo_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_json_form_and_multipart_bodies_arrive_as_sent(echo_worker: str) -> None:
    client = HttpWorkerClient()
    sent = client.send(WorkerRequest(echo_worker, "POST", "/generate", 5, json={"commands": "ls\n", "x": "é"})).json()
    assert sent["json"] == {"commands": "ls\n", "x": "é"} and sent["content_type"] == "application/json"
    form = client.send(WorkerRequest(echo_worker, "POST", "/f", 5, data={"model": "m", "odd": "a&b=c é"})).json()
    assert form["form"] == {"model": "m", "odd": "a&b=c é"}
    upload = client.send(WorkerRequest(
        echo_worker, "POST", "/upload", 5, data={"model": "m", "engine": "rules"},
        files={"file": ('we"ird\nname.sh', "apt-get install -y nginx\n".encode(), "text/x-sh")},
    )).json()
    assert upload["form"] == {"model": "m", "engine": "rules"}
    assert upload["files"]["file"][1:] == ["apt-get install -y nginx\n", "text/x-sh"]
    assert upload["files"]["file"][0] == 'we"ird%0Aname.sh'  # escaped as browsers do; werkzeug reads %22 back
    got = client.send(WorkerRequest(echo_worker, "GET", "/queue-status", 5)).json()
    assert (got["method"], got["path"]) == ("GET", "/queue-status")


def test_a_url_with_a_path_prefix_keeps_it(echo_worker: str) -> None:
    reply = HttpWorkerClient().send(WorkerRequest(echo_worker + "/base", "GET", "/queue-status", 5)).json()
    assert reply["path"] == "/base/queue-status"


# --- byte-exact replies from a raw socket server ------------------------------------------------

class RawServer:
    """Accepts connections; ``serve(conn, index)`` (one thread each) writes whatever it likes."""

    def __init__(self, serve: Callable[[socket.socket, int], None], tls: ssl.SSLContext | None = None) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.serve = serve
        self.tls = tls
        self.connections = 0
        self.closed_by_peer = threading.Event()  # a connection saw the client go
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            index = self.connections
            self.connections += 1
            threading.Thread(target=self._run, args=(conn, index), daemon=True).start()

    def _run(self, conn: socket.socket, index: int) -> None:
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            self.serve(conn, index)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()


def read_request(conn: socket.socket) -> bytes:
    """One request: its head and its Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


def wait_for_close(conn: socket.socket, server: RawServer) -> None:
    """Hold the request unanswered until the client closes its side."""
    conn.settimeout(20)
    try:
        if conn.recv(1) == b"":
            server.closed_by_peer.set()
    except OSError:
        server.closed_by_peer.set()


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawServer]]:
    servers: list[RawServer] = []

    def start(serve: Callable[[socket.socket, int], None], tls: ssl.SSLContext | None = None) -> RawServer:
        servers.append(RawServer(serve, tls))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


OK_BODY = b'{"playbook": "---\\n"}'


def test_a_chunked_reply_is_read_whole_and_the_connection_kept(raw_server: Callable[..., RawServer]) -> None:
    def serve(conn: socket.socket, index: int) -> None:
        while read_request(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"5;ext=1\r\n{\"pla\r\n" + b"%x\r\n" % (len(OK_BODY) - 5) + OK_BODY[5:] + b"\r\n0\r\nX-T: 1\r\n\r\n")

    server = raw_server(serve)
    client = HttpWorkerClient()
    for _ in range(3):
        assert client.send(WorkerRequest(server.url, "POST", "/generate", 5, json={})).body == OK_BODY
    assert server.connections == 1  # kept alive


def test_a_reply_in_two_sends_and_a_close_delimited_reply(raw_server: Callable[..., RawServer]) -> None:
    def serve(conn: socket.socket, index: int) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n")
        time.sleep(0.05)
        conn.sendall(OK_BODY)  # no length: the body ends with the connection

    server = raw_server(serve)
    client = HttpWorkerClient()
    for _ in range(2):
        reply = client.send(WorkerRequest(server.url, "POST", "/generate", 5, json={}))
        assert (reply.status, reply.body) == (200, OK_BODY)
    assert server.connections == 2  # an HTTP/1.0 reply is never reused


def test_a_reply_cut_mid_body_or_a_close_without_a_reply_is_unreachable_after_sending(
    raw_server: Callable[..., RawServer],
) -> None:
    def cut(conn: socket.socket, index: int) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"play")

    def accept_close(conn: socket.socket, index: int) -> None:
        read_request(conn)

    for serve in (cut, accept_close):
        server = raw_server(serve)
        with pytest.raises(BackendUnreachable) as caught:
            HttpWorkerClient().send(WorkerRequest(server.url, "POST", "/generate", 5, json={}))
        assert caught.value.sent is True and "closed the connection" in caught.value.message


def test_not_http_is_unreachable_after_sending(raw_server: Callable[..., RawServer]) -> None:
    server = raw_server(lambda conn, index: (read_request(conn), conn.sendall(b"SSH-2.0-OpenSSH\r\n\r\n")))
    with pytest.raises(BackendUnreachable) as caught:
        HttpWorkerClient().send(WorkerRequest(server.url, "GET", "/queue-status", 5))
    assert caught.value.sent is True and "not HTTP" in caught.value.message


def test_a_kept_alive_connection_the_worker_closed_is_not_reused(raw_server: Callable[..., RawServer]) -> None:
    def serve(conn: socket.socket, index: int) -> None:  # answers one request, keeps alive, then closes
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(OK_BODY) + OK_BODY)
        time.sleep(0.1)

    server = raw_server(serve)
    client = HttpWorkerClient()
    assert client.send(WorkerRequest(server.url, "GET", "/queue-status", 5)).status == 200
    time.sleep(0.4)  # the worker has closed the idle connection by now
    assert client.send(WorkerRequest(server.url, "GET", "/queue-status", 5)).status == 200
    assert server.connections == 2


def test_idle_connections_a_worker_closed_are_swept(raw_server: Callable[..., RawServer]) -> None:
    def serve(conn: socket.socket, index: int) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        time.sleep(0.1)  # then closes: as a worker removed from the pool would, never asked again

    server = raw_server(serve)
    client = HttpWorkerClient()
    client.send(WorkerRequest(server.url, "GET", "/queue-status", 5))
    assert sum(len(idle) for idle in client._idle.values()) == 1
    time.sleep(0.4)
    client._sweep()
    assert sum(len(idle) for idle in client._idle.values()) == 0


# --- cancellation, http and https -----------------------------------------------------------------

def self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting it) for a certificate of 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    return server, ssl.create_default_context(cafile=str(cert_path))


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_cancel_shuts_the_worker_connection_and_raises_client_gone(
    scheme: str, raw_server: Callable[..., RawServer], tmp_path: Path,
) -> None:
    server_tls, client_tls = self_signed(tmp_path) if scheme == "https" else (None, None)
    received = threading.Event()

    def serve(conn: socket.socket, index: int) -> None:
        if index == 0:  # a quick first job proves the connection (and TLS) works
            read_request(conn)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        read_request(conn)
        received.set()
        wait_for_close(conn, server)

    server = raw_server(serve, server_tls)
    assert server.url.startswith(scheme + "://")
    client = HttpWorkerClient(ssl_context=client_tls)
    assert client.send(WorkerRequest(server.url, "POST", "/generate", 5, json={})).status == 200
    cancel = CancelEvent()
    threading.Thread(target=lambda: (received.wait(10), cancel.set()), daemon=True).start()
    start = time.monotonic()
    with pytest.raises(ClientGone):
        client.send(WorkerRequest(server.url, "POST", "/generate", 30, json={"commands": "sleep"}), cancel=cancel)
    assert time.monotonic() - start < 5
    assert server.closed_by_peer.wait(5), "the worker never saw its client go"


def test_cancel_with_a_plain_event_is_polled(raw_server: Callable[..., RawServer]) -> None:
    received = threading.Event()

    def serve(conn: socket.socket, index: int) -> None:
        read_request(conn)
        received.set()
        wait_for_close(conn, server)

    server = raw_server(serve)
    cancel = threading.Event()
    threading.Thread(target=lambda: (received.wait(10), cancel.set()), daemon=True).start()
    with pytest.raises(ClientGone):
        HttpWorkerClient().send(WorkerRequest(server.url, "POST", "/generate", 30, json={}), cancel=cancel)
    assert server.closed_by_peer.wait(5)


def test_a_cancel_set_before_sending_sends_nothing(raw_server: Callable[..., RawServer]) -> None:
    server = raw_server(lambda conn, index: None)
    cancel = CancelEvent()
    cancel.set()
    with pytest.raises(ClientGone):
        HttpWorkerClient().send(WorkerRequest(server.url, "POST", "/generate", 5, json={}), cancel=cancel)
    assert server.connections == 0


def test_an_untrusted_certificate_is_unreachable_before_sending(raw_server: Callable[..., RawServer], tmp_path: Path) -> None:
    server_tls, _ = self_signed(tmp_path)
    server = raw_server(lambda conn, index: read_request(conn), server_tls)
    with pytest.raises(BackendUnreachable) as caught:
        HttpWorkerClient().send(WorkerRequest(server.url, "GET", "/queue-status", 5))
    assert caught.value.sent is False and "TLS" in caught.value.message
