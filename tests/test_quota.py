"""Quota dialects and auto-detection, against real loopback servers.

The canned-body server (tests/support/quota_server.py) covers the shapes the demo relay does not
serve; the demo relay tests check a reading against the relay's own books after real requests.
"""

from __future__ import annotations

import itertools

import pytest

from relay_tui.core.client import RelayClient
from relay_tui.core.errors import AuthError, ConnectionFailed, RelayError
from relay_tui.core.quota import DIALECTS, QuotaUnsupported, read_quota
from relay_tui.store.profile import Profile
from tests.conftest import TEST_KEY
from tests.support.quota_server import QuotaServer

_names = itertools.count()

OPENROUTER = {"data": {"label": "sk-or-v1-au7...890", "limit": 100, "limit_remaining": 74.5,
                       "limit_reset": "monthly", "usage": 25.5, "usage_daily": 25.5,
                       "is_free_tier": False, "expires_at": "2027-12-31T23:59:59Z"}}
LITELLM = {"key": "5f0c9e...hashed", "info": {"key_name": "sk-...abcd", "key_alias": "ci",
                                              "spend": 1.25, "max_budget": 10.0, "team_id": None}}
NEWAPI = {"code": True, "message": "ok", "data": {
    "object": "token_usage", "name": "Default Token", "total_granted": 1_000_000,
    "total_used": 12_345, "total_available": 987_655, "unlimited_quota": False,
    "model_limits": {}, "model_limits_enabled": False, "expires_at": 0}}
SUBSCRIPTION = {"object": "billing_subscription", "has_payment_method": True, "soft_limit_usd": 12.5,
                "hard_limit_usd": 12.5, "system_hard_limit_usd": 12.5, "access_until": 0}
BILLING = {"/v1/dashboard/billing/subscription": (200, SUBSCRIPTION),
           "/v1/dashboard/billing/usage": (200, {"object": "list", "total_usage": 230.0})}
HTML = "<!doctype html><html><body><div id='root'>Loading…</div></body></html>"
ALL_PATHS = "/api/v1/key, /key/info, /api/usage/token, /v1/dashboard/billing/subscription, /v1/quota"


async def read(base_url: str, dialect: str = "auto", *, name: str | None = None,
               key: str = TEST_KEY):
    profile = Profile(name=name or f"q{next(_names)}", base_url=base_url)
    async with RelayClient(profile, key) as client:
        return await read_quota(client, dialect)


async def test_openrouter_key_reads_limit_usage_and_remaining_in_usd():
    with QuotaServer({"/api/v1/key": (200, OPENROUTER)}) as srv:
        r = await read(srv.url + "/v1")
    assert (r.dialect, r.granted, r.used, r.remaining, r.unit, r.unlimited) == \
        ("openrouter", 100, 25.5, 74.5, "USD", False)
    assert r.detail["label"] == "sk-or-v1-au7...890" and r.detail["limit_reset"] == "monthly"
    assert r.used_fraction == pytest.approx(0.255)
    assert srv.requests == [("/api/v1/key", f"Bearer {TEST_KEY}")]   # same key as chat


async def test_openrouter_base_url_with_api_prefix_probes_its_key_endpoint():
    # OpenRouter's base URL is https://openrouter.ai/api/v1: the endpoint is /api/v1/key, not /api/api/...
    with QuotaServer({"/api/v1/key": (200, OPENROUTER)}) as srv:
        r = await read(srv.url + "/api/v1")
    assert r.dialect == "openrouter" and r.remaining == 74.5


async def test_openrouter_limit_null_is_unlimited_with_usage_known():
    body = {"data": {**OPENROUTER["data"], "limit": None, "limit_remaining": None}}
    with QuotaServer({"/api/v1/key": (200, body)}) as srv:
        r = await read(srv.url + "/v1")
    assert (r.unlimited, r.granted, r.used, r.remaining, r.used_fraction) == (True, None, 25.5, None, None)


async def test_litellm_key_info_budget_and_spend():
    with QuotaServer({"/key/info": (200, LITELLM)}) as srv:
        r = await read(srv.url + "/v1")
    assert (r.dialect, r.granted, r.used, r.remaining, r.unlimited) == ("litellm", 10.0, 1.25, 8.75, False)
    assert r.detail == {"key_alias": "ci"}     # the key (even hashed) is not carried along


async def test_litellm_max_budget_null_is_unlimited():
    body = {"key": "x", "info": {**LITELLM["info"], "max_budget": None}}
    with QuotaServer({"/key/info": (200, body)}) as srv:
        r = await read(srv.url)
    assert (r.unlimited, r.granted, r.used, r.remaining) == (True, None, 1.25, None)


async def test_newapi_raw_units_are_converted_to_usd_and_kept_raw():
    with QuotaServer({"/api/usage/token": (200, NEWAPI)}) as srv:
        r = await read(srv.url + "/v1")
    assert r.dialect == "newapi-token" and r.unit == "USD"
    assert (r.granted, r.used, r.remaining) == pytest.approx((2.0, 0.02469, 1.97531))
    assert (r.detail["raw_granted"], r.detail["raw_used"], r.detail["raw_available"]) == \
        (1_000_000, 12_345, 987_655)
    assert "500000" in r.detail["conversion"] and r.detail["name"] == "Default Token"


async def test_newapi_unlimited_token():
    body = {**NEWAPI, "data": {**NEWAPI["data"], "unlimited_quota": True}}
    with QuotaServer({"/api/usage/token": (200, body)}) as srv:
        r = await read(srv.url + "/v1")
    assert (r.unlimited, r.granted, r.remaining) == (True, None, None)
    assert r.used == pytest.approx(0.02469)


async def test_billing_pair_usage_is_in_cents_and_asks_for_this_month():
    with QuotaServer(BILLING) as srv:
        r = await read(srv.url + "/v1")
    assert (r.dialect, r.granted, r.used, r.unit) == ("billing", 12.5, 2.3, "USD")
    assert r.remaining == pytest.approx(10.2)
    usage_query = [p for p, _ in srv.requests if p.startswith("/v1/dashboard/billing/usage")][0]
    assert "start_date=" in usage_query and "-01&end_date=" in usage_query


async def test_billing_limit_of_1e8_means_unlimited():
    sub = {**SUBSCRIPTION, "soft_limit_usd": 1e8, "hard_limit_usd": 1e8, "system_hard_limit_usd": 1e8}
    with QuotaServer({**BILLING, "/v1/dashboard/billing/subscription": (200, sub)}) as srv:
        r = await read(srv.url + "/v1")
    assert (r.unlimited, r.granted, r.used, r.remaining) == (True, None, 2.3, None)


async def test_billing_error_sent_with_http_200_is_reported_not_read_as_zero():
    err = {"error": {"message": "该令牌已过期 (request id: 20250101abc) (request id: 20250101def)",
                     "type": "one_api_error"}}
    with QuotaServer({**BILLING, "/v1/dashboard/billing/subscription": (200, err)}) as srv:
        with pytest.raises(RelayError) as info:
            await read(srv.url + "/v1", "billing")
        with pytest.raises(RelayError) as auto:
            await read(srv.url + "/v1")          # auto: the only dialect there failed, say why
    for e in (info.value, auto.value):
        assert not isinstance(e, QuotaUnsupported)
        assert "该令牌已过期" in str(e) and str(e).count("request id") == 1


async def test_simple_quota_endpoint():
    with QuotaServer({"/v1/quota": (200, {"used": 3.0, "remaining": 7.0})}) as srv:
        r = await read(srv.url + "/v1")
    assert (r.dialect, r.granted, r.used, r.remaining, r.unit) == ("simple", 10.0, 3.0, 7.0, "USD")


async def test_all_404_names_every_endpoint_tried():
    with QuotaServer({}) as srv:
        with pytest.raises(QuotaUnsupported) as info:
            await read(srv.url + "/v1")
    assert str(info.value) == f"this relay does not report quota (tried: {ALL_PATHS})"
    assert srv.paths == ["/api/v1/key", "/key/info", "/api/usage/token",
                         "/v1/dashboard/billing/subscription", "/v1/quota"]


async def test_litellm_without_a_database_does_not_report_quota():
    no_db = {"error": {"message": "Database not connected. Connect a database to your proxy - "
                                  "https://docs.litellm.ai/docs/simple_proxy", "type": "internal_server_error",
                       "param": None, "code": "500"}}
    with QuotaServer({"/key/info": (500, no_db)}) as srv:
        with pytest.raises(QuotaUnsupported) as info:
            await read(srv.url + "/v1")
    assert str(info.value) == (f"this relay does not report quota (tried: {ALL_PATHS}); LiteLLM's "
                               f"/key/info needs a database this proxy does not have")


async def test_html_pages_mean_not_supported():
    # new-api and one-api serve their web UI for unknown paths, with HTTP 200
    routes = {p: (200, HTML) for p in ("/api/v1/key", "/key/info", "/api/usage/token",
                                       "/v1/dashboard/billing/subscription", "/v1/quota")}
    with QuotaServer(routes) as srv:
        with pytest.raises(QuotaUnsupported, match="does not report quota"):
            await read(srv.url + "/v1")


async def test_a_catch_all_json_route_is_not_mistaken_for_a_dialect():
    wrong = {"data": {"object": "list"}, "info": {"version": "1"}, "success": True}
    routes = {p: (200, wrong) for p in ("/api/v1/key", "/key/info", "/api/usage/token",
                                        "/v1/dashboard/billing/subscription", "/v1/quota")}
    with QuotaServer({**routes, "/v1/quota": (200, {"used": 1, "remaining": 4})}) as srv:
        r = await read(srv.url + "/v1")
    assert r.dialect == "simple" and r.granted == 5


async def test_probe_order_and_the_answer_is_remembered_per_profile():
    routes = {"/key/info": (200, LITELLM), "/v1/quota": (200, {"used": 3.0, "remaining": 7.0})}
    with QuotaServer(routes) as srv:
        first = await read(srv.url + "/v1", name="remembered")
        assert first.dialect == "litellm"
        assert srv.paths == ["/api/v1/key", "/key/info"]
        srv.requests.clear()
        again = await read(srv.url + "/v1", name="remembered")
        assert again.dialect == "litellm" and srv.paths == ["/key/info"]   # no probing on refresh


async def test_a_401_stops_probing_with_an_auth_error():
    # some relays echo the key they refused; it must not reach the message
    said = "User not found. Invalid key: sk-wrong-0123456789abcdef"
    routes = {"/api/v1/key": (401, {"error": {"code": 401, "message": said}}),
              "/v1/quota": (200, {"used": 3.0, "remaining": 7.0})}
    with QuotaServer(routes) as srv:
        with pytest.raises(AuthError) as info:
            await read(srv.url + "/v1", key="sk-wrong-0123456789abcdef")
    assert srv.paths == ["/api/v1/key"]
    assert "User not found." in str(info.value) and "sk-wrong" not in str(info.value)


async def test_chosen_dialect_that_is_absent_says_so():
    with QuotaServer({"/api/v1/key": (200, OPENROUTER)}) as srv:
        with pytest.raises(QuotaUnsupported) as info:
            await read(srv.url + "/v1", "simple")
    assert str(info.value).startswith("this relay does not report quota as simple (GET /v1/quota: HTTP 404)")


async def test_quota_turned_off_or_unknown_dialect_is_a_clear_message():
    with QuotaServer({}) as srv:
        with pytest.raises(QuotaUnsupported, match="turned off"):
            await read(srv.url + "/v1", "none")
        with pytest.raises(QuotaUnsupported, match="unknown quota dialect 'bogus'"):
            await read(srv.url + "/v1", "bogus")
        assert srv.requests == []


async def test_unreachable_relay_is_a_connection_error_after_one_attempt():
    with QuotaServer({}) as srv:
        url = srv.url
    with pytest.raises(ConnectionFailed, match="could not connect"):
        await read(url + "/v1")


async def test_a_failing_endpoint_does_not_hide_a_later_dialect():
    routes = {"/api/usage/token": (500, {"error": {"message": "database is locked"}}),
              "/v1/quota": (200, {"used": 3.0, "remaining": 7.0})}
    with QuotaServer(routes) as srv:
        r = await read(srv.url + "/v1")
    assert r.dialect == "simple"


# --- against the demo relay: one account, read through each dialect, checked against its books ---

DEMO_DIALECTS = DIALECTS  # the demo relay serves every dialect under the same names
HI = [{"role": "user", "content": "Give me a short markdown table of three fruits."}]


@pytest.fixture
def demo_with():
    """Start demo relays serving only the given quota dialects (our names); stopped afterwards."""
    from relay_tui.demo import DEMO_KEY, DemoRelay

    started = []

    def make(*dialects: str) -> DemoRelay:
        relay = DemoRelay(time_scale=0.0, accept_keys=(DEMO_KEY, TEST_KEY),
                          quota_dialects=set(dialects))
        relay.start()
        started.append(relay)
        return relay

    yield make
    for relay in started:
        relay.stop()


@pytest.mark.parametrize("dialect", DEMO_DIALECTS)
async def test_each_dialect_matches_the_relays_books_to_the_cent_after_a_request(demo_with, dialect):
    relay = demo_with(dialect)
    profile = Profile(name=f"demo-{dialect}", base_url=relay.base_url)
    async with RelayClient(profile, TEST_KEY) as client:
        before = await read_quota(client)
        events = [e async for e in client.stream_chat(HI, "claude-sonnet-4.5")]
        after = await read_quota(client)
    books = relay.books()
    assert books["used_usd"] > 0.001 and events[-1].finish_reason == "stop"
    assert (before.dialect, after.dialect, after.unit, after.unlimited) == (dialect, dialect, "USD", False)
    # new-api rounds to whole quota units (500000 = $1), hence 1e-5 rather than exact
    assert before.used == pytest.approx(0, abs=1e-5) and before.granted == pytest.approx(25.0)
    assert after.used == pytest.approx(books["used_usd"], abs=1e-5)
    assert after.remaining == pytest.approx(books["remaining_usd"], abs=1e-5)
    assert after.remaining < before.remaining


@pytest.mark.parametrize(("served", "expected"), [
    (("openrouter", "litellm", "newapi-token", "billing", "simple"), "openrouter"),
    (("simple", "billing", "newapi-token", "litellm"), "litellm"),
    (("simple", "newapi-token"), "newapi-token"),
    (("simple", "billing"), "billing"),
])
async def test_auto_detection_follows_the_reference_probe_order(demo_with, served, expected):
    relay = demo_with(*served)
    assert (await read(relay.base_url)).dialect == expected


async def test_demo_unlimited_token_and_error_sent_as_200(demo_with):
    relay = demo_with("billing")
    relay.set_fault("unlimited_token")
    r = await read(relay.base_url)
    assert (r.dialect, r.unlimited, r.granted, r.remaining) == ("billing", True, None, None)
    relay.clear_faults()
    relay.set_fault("quota_error_200")
    with pytest.raises(RelayError, match="database is locked"):
        await read(relay.base_url, "billing")


async def test_demo_with_a_wrong_key_is_an_auth_error(demo_with):
    relay = demo_with("newapi-token")
    with pytest.raises(AuthError, match="rejected the key"):
        await read(relay.base_url, key="sk-not-the-demo-key-0000000000")
