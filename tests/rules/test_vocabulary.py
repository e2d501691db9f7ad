"""The values closed context fields never take, refused at load (``device == 'Mobile'``)."""

from __future__ import annotations

import pytest

from proxy.rules.vocabulary import value_problem


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        (
            "device",
            "Mobile",
            "device is one of mobile, tablet, desktop, bot, never 'Mobile' "
            "(did you mean 'mobile'?)",
        ),
        ("weekday", "monday", "(did you mean 'mon'?)"),
        ("referrer.class", "google", "referrer.class is one of search, social, email"),
        ("os", 3, "os is one of ios"),
        ("country", "us", "country is an upper-case ISO 3166 code such as 'US', never 'us'"),
        ("region", "CA", "region is an ISO 3166-2 code"),
        ("language", "de-CH", "language is a lower-case primary subtag"),
    ],
)
def test_a_value_the_field_never_takes_is_named(field: str, value: object, problem: str) -> None:
    found = value_problem(field, value)
    assert found is not None and problem in found


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("device", "bot"),
        ("weekday", "sun"),
        ("referrer.class", "internal"),
        ("country", "DE"),
        ("region", "US-CA"),
        ("language", "pt"),
        ("hour", 25),  # ordered fields are not checked here
        ("cookie.plan", "Pro"),  # open fields take anything
    ],
)
def test_a_value_the_field_may_take_passes(field: str, value: object) -> None:
    assert value_problem(field, value) is None
