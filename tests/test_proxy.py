"""Proxies and plain HTTP, through a real forward proxy on loopback (tests/support/http_proxy.py).

httpx would send loopback targets through an environment proxy too (it only exempts what NO_PROXY
lists); the client reaches a loopback relay directly unless the profile names a proxy, so the
environment-proxy tests use a "remote" relay: `relay.example.test`, a name that never resolves
(RFC 2606). Only the proxy, told to map it to 127.0.0.1, can reach it, so a request that skipped
the proxy would fail instead of going out to a real host. NO_PROXY (set by the shared fixtures)
is cleared here.
"""

from __future__ import annotations

import asyncio
import io
import sys
import time
from dataclasses import replace

import pytest

from relay_tui.app import AppOptions, make_app
from relay_tui.cli import main
from relay_tui.core.client import RelayClient
from relay_tui.core.errors import RelayError
from relay_tui.core.events import Done
from relay_tui.core.quota import read_quota
from relay_tui.core.target import plain_http_warning
from relay_tui.store.config import save_profile
from relay_tui.store.keys import set_key
from relay_tui.store.profile import Profile
from relay_tui.ui.status_bar import StatusBar
from tests.conftest import TEST_KEY
from tests.support.http_proxy import HttpProxy, TlsFront, self_signed_cert

FAR = "relay.example.test"
PASSWORD = "pr0xy-s3cret-pw"


class StampedStderr(io.StringIO):
    """stderr that remembers when each line was written (wall clock, as the proxy's record)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[float, str]] = []

    def write(self, text: str) -> int:
        self.lines += [(time.time(), line) for line in text.splitlines() if line.strip()]
        return super().write(text)


@pytest.fixture
def proxy(monkeypatch):
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    server = HttpProxy(hosts={FAR: "127.0.0.1"})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def other_proxy():
    server = HttpProxy(hosts={FAR: "127.0.0.1"})
    server.start()
    yield server
    server.stop()


def cli(monkeypatch, capsys, *argv: str) -> tuple[int, str, StampedStderr]:
    stderr = StampedStderr()
    monkeypatch.setattr(sys, "stderr", stderr)
    code = main(list(argv))
    return code, capsys.readouterr().out, stderr


def far_url(server) -> str:
    """The base URL of the demo relay (or its TLS front) under the never-resolving name."""
    return f"{'https' if isinstance(server, TlsFront) else 'http'}://{FAR}:{server.port}/v1"


def paths(server: HttpProxy) -> list[str]:
    return [f"{r.method} {r.host}:{r.port}{r.path}" for r in server.requests]


# -- plain HTTP -----------------------------------------------------------------------------------

@pytest.mark.parametrize("url, warned", [
    ("http://127.0.0.1:8080/v1", False), ("http://localhost:3000/v1", False),
    ("http://[::1]:8080/v1", False), ("http://127.8.9.10/v1", False),
    ("https://relay.example.com/v1", False), ("http://relay.example.com/v1", True),
    ("http://192.168.1.20:3000/v1", True), ("http://[2001:db8::1]/v1", True),
])
def test_plain_http_warning_only_off_loopback(url, warned):
    warning = plain_http_warning(url)
    assert (warning is not None) == warned
    if warned:
        assert "not encrypted" in warning and "API key will be sent in clear text" in warning


@pytest.mark.parametrize("command", [["models"], ["chat", "-m", "gpt-4.1", "hi"], ["quota"]])
def test_cli_warns_once_before_the_key_leaves(command, proxy, demo_relay, monkeypatch, capsys):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    code, out, stderr = cli(monkeypatch, capsys, "--base-url", far_url(demo_relay), *command)
    assert code == 0 and out.strip()
    warned = [(at, line) for at, line in stderr.lines if "not encrypted" in line]
    assert len(warned) == 1
    assert warned[0][1] == (f"relay-tui: warning: http://{FAR} is not encrypted: the API key will be sent "
                            f"in clear text; use https:// if the relay supports it")
    carried = [r for r in proxy.requests if r.authorization]
    assert carried and all(r.host == FAR for r in carried)
    assert warned[0][0] <= carried[0].at  # said before the first request with the key reached the wire


def test_cli_says_nothing_for_loopback_http(proxy, demo_relay, monkeypatch, capsys):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    code, _, stderr = cli(monkeypatch, capsys, "--base-url", demo_relay.base_url, "models")
    assert code == 0 and stderr.lines == []


def test_profiles_add_and_keys_set_warn_about_plain_http(monkeypatch, capsys):
    code, out, stderr = cli(monkeypatch, capsys, "profiles", "add", "far", "--base-url", f"http://{FAR}/v1")
    assert code == 0 and "profile far saved" in out
    assert [line for _, line in stderr.lines] == [
        f"relay-tui: warning: http://{FAR} is not encrypted: the API key will be sent in clear text; "
        f"use https:// if the relay supports it"]
    monkeypatch.setattr(sys, "stdin", io.StringIO(TEST_KEY + "\n"))
    code, out, stderr = cli(monkeypatch, capsys, "keys", "set", "far")  # the key is handed over: again
    assert code == 0 and "saved in the OS keyring" in out
    assert [line for _, line in stderr.lines] == [
        f"relay-tui: warning: http://{FAR} is not encrypted: the API key will be sent in clear text; "
        f"use https:// if the relay supports it"]
    code, _, stderr = cli(monkeypatch, capsys, "profiles", "add", "safe", "--base-url", f"https://{FAR}/v1")
    assert code == 0 and stderr.lines == []


async def test_tui_warns_before_its_first_request(proxy, demo_relay, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    save_profile(Profile(name="far", base_url=far_url(demo_relay), default_model="gpt-4.1"), make_active=True)
    set_key("far", TEST_KEY)
    app = make_app(AppOptions())
    async with app.run_test(size=(160, 48)) as pilot:
        for _ in range(100):
            if proxy.requests:
                break
            await pilot.pause(0.02)
        warnings = [n for n in app._notifications if "not encrypted" in n.message]
        assert len(warnings) == 1 and warnings[0].severity == "warning"
        assert warnings[0].message.startswith(f"warning: http://{FAR} is not encrypted")
        assert proxy.requests and warnings[0].raised_at <= min(r.at for r in proxy.requests)
        assert "key sent unencrypted (http)" in app.query_one(StatusBar).render().plain


async def test_tui_chats_through_the_environment_proxy(proxy, demo_relay, monkeypatch):
    """The TUI's client (on its network thread) honours HTTP_PROXY as the CLI's does."""
    from tests.test_fault_matrix import send

    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    save_profile(Profile(name="far", base_url=far_url(demo_relay), default_model="gpt-4.1"), make_active=True)
    set_key("far", TEST_KEY)
    app = make_app(AppOptions())
    async with app.run_test(size=(160, 48)) as pilot:
        pane = await send(pilot, "hello through the proxy")
        answer = app.history.messages(pane.conversation.id)[-1]
        assert answer.state == "done" and answer.content
    assert f"POST {FAR}:{demo_relay.port}/v1/chat/completions" in paths(proxy)


async def test_tui_loopback_profile_has_no_warning(demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    app = make_app(AppOptions(base_url=demo_relay.base_url))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert not [n for n in app._notifications if "not encrypted" in n.message]
        assert "unencrypted" not in app.query_one(StatusBar).render().plain


# -- proxies ----------------------------------------------------------------------------------

# Where the quota dialects read (reference/relay-protocol.md section 1): a quota read asks one of these.
QUOTA_PATHS = ("/api/v1/key", "/key/info", "/api/usage/token", "/v1/dashboard/billing/", "/v1/quota")

async def use_everything(profile: Profile) -> None:
    """models, a streamed chat and a quota read through one core client."""
    async with RelayClient(profile, TEST_KEY) as client:
        assert "gpt-4.1" in [m.id for m in await client.models()]
        events = [e async for e in client.stream_chat([{"role": "user", "content": "hi"}], "gpt-4.1")]
        assert isinstance(events[-1], Done)
        reading = await read_quota(client)
        assert reading.remaining is not None


@pytest.mark.parametrize("how", ["HTTP_PROXY", "profile"])
async def test_core_client_goes_through_the_proxy(how, proxy, other_proxy, demo_relay, monkeypatch):
    if how == "profile":  # the profile's proxy wins over the environment's, loopback relay or not
        monkeypatch.setenv("HTTP_PROXY", other_proxy.url)
        profile = Profile(name="p", base_url=demo_relay.base_url, proxy=proxy.url)
        where = f"127.0.0.1:{demo_relay.port}"
    else:
        monkeypatch.setenv(how, proxy.url)
        profile = Profile(name="p", base_url=far_url(demo_relay))
        where = f"{FAR}:{demo_relay.port}"
    await use_everything(profile)
    carried = paths(proxy)
    assert f"GET {where}/v1/models" in carried and f"POST {where}/v1/chat/completions" in carried
    assert any(r.path.startswith(QUOTA_PATHS) for r in proxy.requests)  # the quota read too
    assert all(r.authorization for r in proxy.requests)
    assert other_proxy.requests == []


@pytest.fixture
def tls_relay(demo_relay, tmp_path, monkeypatch):
    """The demo relay behind TLS on loopback, its certificate trusted through SSL_CERT_FILE."""
    certfile, keyfile = self_signed_cert(tmp_path, names=(FAR,))
    monkeypatch.setenv("SSL_CERT_FILE", certfile)
    front = TlsFront(demo_relay.port, certfile, keyfile)
    front.start()
    yield front
    front.stop()


async def test_https_proxy_tunnels_https_relays(proxy, other_proxy, tls_relay, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("HTTP_PROXY", other_proxy.url)  # for http:// only: must stay unused
    await use_everything(Profile(name="tls", base_url=far_url(tls_relay)))
    assert paths(proxy) == [f"CONNECT {FAR}:{tls_relay.port}"]  # one pooled tunnel
    assert other_proxy.requests == []


@pytest.mark.parametrize("how", ["HTTP_PROXY", "HTTPS_PROXY", "profile"])
def test_cli_chat_models_and_quota_go_through_the_proxy(how, proxy, demo_relay, tls_relay,
                                                        monkeypatch, capsys):
    if how == "profile":
        base = demo_relay.base_url
        assert main(["profiles", "add", "p", "--base-url", base, "--proxy", proxy.url]) == 0
        set_key("p", TEST_KEY)
        target = ["--profile", "p"]
    else:
        monkeypatch.setenv(how, proxy.url)
        monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
        target = ["--base-url", far_url(tls_relay if how == "HTTPS_PROXY" else demo_relay)]
    for command, seen in ((["models"], "/v1/models"),
                          (["chat", "-m", "gpt-4.1", "hi"], "/v1/chat/completions"),
                          (["quota"], QUOTA_PATHS)):
        before = len(proxy.requests)
        code, out, stderr = cli(monkeypatch, capsys, *target, *command)
        assert code == 0 and out.strip(), stderr.getvalue()
        new = proxy.requests[before:]
        if how == "HTTPS_PROXY":
            assert [(r.method, r.port) for r in new] == [("CONNECT", tls_relay.port)]
        else:
            assert new and all(r.port == demo_relay.port for r in new)
            assert any(r.path.startswith(seen) for r in new)


# -- proxy failures and credentials ----------------------------------------------------------------

def credentialed(server: HttpProxy, password: str = PASSWORD) -> str:
    return f"http://tester:{password}@127.0.0.1:{server.port}"


async def test_proxy_credentials_are_sent_and_never_shown(demo_relay, tls_relay, monkeypatch):
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    server = HttpProxy(auth=("tester", PASSWORD))
    server.start()
    try:
        plain = Profile(name="p", base_url=demo_relay.base_url, proxy=credentialed(server))
        await use_everything(plain)
        await use_everything(replace(plain, base_url=tls_relay.url + "/v1"))
        assert server.requests
        messages = []
        for base in (demo_relay.base_url, tls_relay.url + "/v1"):
            wrong = replace(plain, base_url=base, proxy=credentialed(server, "wrong-" + PASSWORD))
            messages.append(await failure(wrong))
        server.drop = True
        messages.append(await failure(plain))
        messages.append(await failure(replace(plain, base_url=tls_relay.url + "/v1")))
    finally:
        server.stop()
    messages.append(await failure(plain))  # the proxy is gone: connection refused
    for message in messages:
        assert PASSWORD not in message and "tester" not in message and TEST_KEY[:12] not in message
        assert "\n" not in message
    relay, tls, proxied = (f"127.0.0.1:{demo_relay.port}", f"127.0.0.1:{tls_relay.port}",
                           f"127.0.0.1:{server.port}")
    fix = "check the user and password in the proxy URL (user:password@host:port)"
    assert messages[0].startswith(f"the proxy {proxied} wants credentials (HTTP 407): {fix} [request ")
    assert messages[1].startswith(f"the proxy {proxied} failed on the way to {tls}: 407 Proxy "
                                  f"Authentication Required — {fix} [request ")
    assert messages[2].startswith(f"the relay at {relay} (through the proxy {proxied}) closed the "
                                  f"connection without answering")
    assert messages[3].startswith(f"the relay at {tls} (through the proxy {proxied}) closed the "
                                  f"connection without answering")
    assert messages[4].startswith(f"could not connect to the proxy {proxied} on the way to {relay}: "
                                  f"connection refused (is the proxy running? it comes from profile p's "
                                  f"proxy setting) [request ")


def test_environment_proxies_leave_loopback_relays_alone(proxy, monkeypatch, capsys):
    """`--demo` (and any relay on 127.0.0.1) works behind a proxy that cannot reach this machine."""
    proxy.drop = True
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(var, proxy.url)
    for command in (["models"], ["quota"]):  # (a --demo chat streams at the demo's real pace)
        code, out, stderr = cli(monkeypatch, capsys, "--demo", *command)
        assert code == 0 and out.strip(), stderr.getvalue()
    assert proxy.requests == []


def test_cli_names_a_dead_environment_proxy(demo_relay, monkeypatch, capsys):
    dead = HttpProxy()
    dead.start()
    dead.stop()  # its port is now closed
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://tester:{PASSWORD}@127.0.0.1:{dead.port}")
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    code, _, stderr = cli(monkeypatch, capsys, "--base-url", far_url(demo_relay), "models")
    assert code == 1
    assert [line for _, line in stderr.lines][-1].startswith(
        f"relay-tui: could not connect to the proxy 127.0.0.1:{dead.port} on the way to "
        f"{FAR}:{demo_relay.port}: connection refused (is the proxy running? it comes from "
        f"HTTP_PROXY/ALL_PROXY) [request ")
    assert PASSWORD not in stderr.getvalue()


async def failure(profile: Profile) -> str:
    """The one line a failed models() call shows; its repr is held to the same standard."""
    async with RelayClient(profile, TEST_KEY) as client:
        with pytest.raises(RelayError) as info:
            await asyncio.wait_for(client.models(), 10)
    assert PASSWORD not in repr(info.value)
    return str(info.value)
