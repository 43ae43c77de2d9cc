"""A small real HTTP forward proxy on 127.0.0.1, so tests can prove traffic went through a proxy.

It forwards absolute-URI requests (`GET http://host:port/path`) for http:// targets and tunnels
`CONNECT host:port` for https:// ones, and records each request it carried in `requests`.
`drop = True` makes it close every new connection without answering, cleanly, once the request
has arrived (a proxy that drops the connection); `auth=(user, password)` makes it demand Basic
proxy credentials (407 otherwise); `hosts` maps names to addresses, so a profile can name a
non-loopback host that still reaches a loopback relay; `leaks_credentials = True` passes the
Proxy-Authorization header on to the relay, as a careless proxy does. Each forwarded request asks the relay for
`Connection: close`, so every request arrives on a connection of its own and none goes past the
record.

`TlsFront` terminates TLS in front of a plain-HTTP relay (the demo relay), so https:// through a
CONNECT tunnel can be tested end to end; `self_signed_cert` makes the certificate it serves.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Carried:
    method: str
    host: str
    port: int
    path: str          # "" for CONNECT
    at: float          # time.time() when the request head arrived (comparable with Textual's toasts)
    authorization: bool  # the request carried an Authorization header (visible only outside a tunnel)


class _LoopbackServer:
    """An asyncio server on 127.0.0.1 with its own loop in a daemon thread."""

    scheme = "http"
    _ssl: ssl.SSLContext | None = None

    def __init__(self) -> None:
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> str:
        """Serve from a daemon thread; returns the server's URL."""
        ready = threading.Event()

        async def serve() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            server = await asyncio.start_server(self._connection, "127.0.0.1", 0, ssl=self._ssl)
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            async with server:
                await self._stop.wait()

        self._thread = threading.Thread(target=asyncio.run, args=(serve(),),
                                        name=type(self).__name__, daemon=True)
        self._thread.start()
        ready.wait(5)
        return self.url

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class HttpProxy(_LoopbackServer):
    def __init__(self, auth: tuple[str, str] | None = None, hosts: dict[str, str] | None = None):
        super().__init__()
        self.requests: list[Carried] = []
        self.drop = False
        self.auth = auth
        self.hosts = dict(hosts or {})
        self.leaks_credentials = False

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = None
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, version = line.split(" ", 2)
            headers = [h for h in header_lines if h]
            names = {h.split(":", 1)[0].strip().lower(): h.split(":", 1)[1].strip() for h in headers}
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                path = ""
            else:
                parts = urlsplit(target)
                host, port = parts.hostname or "", str(parts.port or 80)
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            self.requests.append(Carried(method, host.strip("[]"), int(port), path, time.time(),
                                         "authorization" in names))
            if self.drop:
                # Read the request body first: closing with unread bytes makes the kernel send a
                # reset instead of a clean close, and which one the client sees would be a race.
                if length := int(names.get("content-length", "0") or 0):
                    await reader.readexactly(length)
                writer.transport.abort()
                return
            if self.auth is not None and not self._authorised(names.get("proxy-authorization", "")):
                writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                             b"Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")
                await writer.drain()
                return
            address = self.hosts.get(host, host.strip("[]"))
            try:
                up_reader, upstream = await asyncio.open_connection(address, int(port))
            except OSError:
                writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                await writer.drain()
                return
            if method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
            else:
                dropped = ("proxy-connection", "connection") + (
                    () if self.leaks_credentials else ("proxy-authorization",))
                kept = [h for h in headers if h.split(":", 1)[0].strip().lower() not in dropped]
                upstream.write(f"{method} {path} {version}\r\n".encode("latin-1")
                               + "".join(f"{h}\r\n" for h in kept).encode("latin-1")
                               + b"Connection: close\r\n\r\n")
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            pass
        finally:
            for w in (writer, upstream):
                if w is not None:
                    w.close()

    def _authorised(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return (user, password) == self.auth


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF, then half-close the other side so the far end sees the end too."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


class TlsFront(_LoopbackServer):
    """https://127.0.0.1:port in front of a plain-HTTP server on `upstream_port`."""

    scheme = "https"

    def __init__(self, upstream_port: int, certfile: str, keyfile: str):
        super().__init__()
        self.upstream_port = upstream_port
        self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ssl.load_cert_chain(certfile, keyfile)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, upstream = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        try:
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        finally:
            upstream.close()
            writer.close()


def self_signed_cert(folder, names: tuple[str, ...] = ()) -> tuple[str, str]:
    """A certificate for 127.0.0.1, localhost and `names`, its own CA: (certfile, keyfile) in `folder`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay-tui test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in ("localhost", *names)]
                + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    certfile, keyfile = f"{folder}/cert.pem", f"{folder}/key.pem"
    with open(certfile, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(keyfile, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return certfile, keyfile
