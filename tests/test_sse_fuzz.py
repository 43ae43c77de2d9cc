"""Fuzzing the stream decoder (properties in tests/support/sse_fuzz.py; the long run is bench/fuzz_sse.py)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import sse_fuzz

CUTS = st.lists(st.integers(min_value=0), max_size=16)
SUITE = settings(max_examples=200, deadline=1000, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.data_too_large])


@SUITE
@given(sse_fuzz.valid_stream(), CUTS)
def test_any_chunking_of_a_valid_stream_gives_the_direct_events(stream, cuts):
    sse_fuzz.chunking_is_invisible(stream, cuts)


@SUITE
@given(sse_fuzz.garbage(), CUTS)
def test_garbage_ends_in_events_or_a_relay_error(data, cuts):
    sse_fuzz.garbage_is_refused_cleanly(data, cuts)


# What the fuzzer found (each crashed the decoder with a non-RelayError before the fix).

def test_an_empty_data_field_dispatches_nothing():
    done = b"data: [DONE]\n\n"
    expected = sse_fuzz.direct(["[DONE]"])
    assert sse_fuzz.drive([b"data: \n\n", done]) == sse_fuzz.drive([b"data:\n\n", done]) == expected


def test_json_nested_past_the_stack_is_malformed_json():
    outcome = sse_fuzz.drive([b"data: " + b"[" * 50_000 + b"\n\n"])
    assert outcome.error.startswith("BadResponse: the relay sent malformed JSON in the stream ('[[[")


def test_absurd_usage_figures_are_dropped_not_fatal():
    usage = b'{"choices":[],"usage":{"cost":1' + b"0" * 400 + b',"completion_tokens":' + b"9" * 30 + b"}}"
    outcome = sse_fuzz.drive([b"data: " + usage + b"\n\n", b"data: [DONE]\n\n"])
    assert outcome.error is None and outcome.done
    assert outcome.usage.relay_cost is None and outcome.usage.completion_tokens is None
    inf = sse_fuzz.drive([b'data: {"choices":[],"usage":{"cost":1e999}}\n\n', b"data: [DONE]\n\n"])
    assert inf.usage.relay_cost is None
