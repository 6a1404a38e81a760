"""Test certificates made with trustme: a CA, a server certificate for 127.0.0.1 and a client
certificate it signed, and a second ("rogue") CA with a server certificate of its own."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class CertFiles:
    """PEM files: ``ca`` signed ``server_*`` and ``client_*``; ``rogue_ca`` signed ``rogue_server_*``."""

    ca: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str
    rogue_ca: str
    rogue_server_cert: str
    rogue_server_key: str
    rogue_client_cert: str
    rogue_client_key: str

    @property
    def client(self) -> tuple[str, str]:
        return self.client_cert, self.client_key


def make_certs(directory: Path) -> CertFiles:
    """Write every certificate and key under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}

    def write(name: str, blob: trustme.Blob) -> None:
        path = directory / f"{name}.pem"
        blob.write_to_path(str(path))
        paths[name] = str(path)

    for prefix, ca in (("", trustme.CA()), ("rogue_", trustme.CA())):
        write(f"{prefix}ca", ca.cert_pem)
        server = ca.issue_cert("127.0.0.1", "localhost")
        write(f"{prefix}server_cert", server.cert_chain_pems[0])
        write(f"{prefix}server_key", server.private_key_pem)
        client = ca.issue_cert("balancer.farm.test")
        write(f"{prefix}client_cert", client.cert_chain_pems[0])
        write(f"{prefix}client_key", client.private_key_pem)
    return CertFiles(**paths)
