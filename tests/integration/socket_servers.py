"""Loopback servers that fail the way real networks do, for the transport's failure tests: a
port nothing listens on, a port whose accept queue is full (a connect that never completes), a
server that reads each request, counts it and never answers, and a TLS server whose certificate
is self-signed. Each counts what reached it, so a test can assert how often a request was sent.
:class:`LoopbackServer` is their accept loop (a thread per connection)."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
from pathlib import Path


def closed_port() -> int:
    """A loopback port nothing listens on (connecting is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FullBacklog:
    """A listening port whose accept queue is full and never served: a new connection's SYN is
    dropped, so connecting times out (Linux keeps ``backlog + 1`` pending connections)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            try:
                filler.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self.fillers.append(filler)

    def close(self) -> None:
        for filler in self.fillers:
            filler.close()
        self.sock.close()


class LoopbackServer:
    """A TCP server on a free loopback port: each accepted connection (counted in
    ``connections``, numbered from 1, kept in ``accepted``) is served by :meth:`serve` on a thread
    of its own until :meth:`close`."""

    scheme = "http"

    def __init__(self, backlog: int = 16) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.url = f"{self.scheme}://127.0.0.1:{self.port}"
        self.connections = 0
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed
                return
            self.connections += 1
            self.accepted.append(conn)
            threading.Thread(target=self.serve, args=(conn, self.connections), daemon=True).start()

    def serve(self, conn: socket.socket, number: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.sock.close()


class SilentServer(LoopbackServer):
    """Reads each request whole (head and ``Content-Length`` body), records its request line,
    and never answers: the client's read timeout runs out while the request was delivered."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self._closed = threading.Event()
        super().__init__()

    def serve(self, conn: socket.socket, number: int) -> None:
        try:
            with conn.makefile("rb") as reader:
                while not self._closed.is_set():
                    line = reader.readline().decode("latin-1").strip()
                    if not line:
                        return
                    length = 0
                    while (header := reader.readline().decode("latin-1").strip()) != "":
                        name, _, value = header.partition(":")
                        if name.strip().lower() == "content-length":
                            length = int(value)
                    reader.read(length)
                    self.received.append(line)
        except OSError:
            return

    def close(self) -> None:
        self._closed.set()
        for conn in self.accepted:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        super().close()


def self_signed_certificate(folder: Path) -> tuple[str, str]:
    """(certificate path, key path) of a self-signed certificate for 127.0.0.1 and localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        # key identifiers: Python 3.13's default context verifies strictly (VERIFY_X509_STRICT)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path)


class SelfSignedTlsServer(LoopbackServer):
    """HTTPS on loopback with a self-signed certificate: counts the TLS handshakes tried
    (``handshakes``) and answers ``200 {"ok": true}`` to a client that trusts the certificate."""

    scheme = "https"

    def __init__(self, folder: Path) -> None:
        self.cert, key = self_signed_certificate(folder)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(self.cert, key)
        self.answered = 0
        super().__init__()

    @property
    def handshakes(self) -> int:
        """The connections accepted: each one a TLS handshake tried."""
        return self.connections

    def serve(self, conn: socket.socket, number: int) -> None:
        try:
            with self.context.wrap_socket(conn, server_side=True) as tls:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = tls.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                body = b'{"ok": true}'
                tls.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                self.answered += 1
        except (OSError, ssl.SSLError):
            return
