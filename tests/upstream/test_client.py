"""The request target never chooses the upstream (docs/reliability.md SE-01, §0.3b, PX-07)."""

from __future__ import annotations

import pytest
from aiohttp import DummyCookieJar
from hypothesis import example, given
from hypothesis import strategies as st

from proxy.config.schema import OriginConfig
from proxy.upstream.client import SKIP_AUTO_HEADERS, create_origin_session, origin_form, origin_url

ORIGIN = "http://127.0.0.1:8000"


def assert_goes_to_origin(target: str, origin: str = ORIGIN) -> str:
    form = origin_form(target)
    assert form is not None and form.startswith("/")
    url = origin_url(origin, form)
    assert (url.scheme, url.host, url.port) == ("http", "127.0.0.1", 8000)
    return form


@pytest.mark.parametrize(
    "target",
    [
        "//evil/x",
        "/\\evil/",
        "/http://evil/",
        "//evil.example:443/x?y",
        "/@evil.example/",
        "/%2F%2Fevil/",
        "/.//evil/",
    ],
)
def test_origin_form_targets_pass_byte_for_byte_to_the_origin(target: str) -> None:
    assert assert_goes_to_origin(target) == target
    assert origin_url(ORIGIN, target).raw_path_qs == target


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("http://evil.example/x?y", "/x?y"),
        ("https://evil", "/"),
        ("HTTP://Evil.Example/A%2Fb", "/A%2Fb"),
        ("http://evil.example?q=1", "/?q=1"),
        ("http://evil.example:80//x", "//x"),
        ("http://user@evil.example/x", "/x"),
    ],
)
def test_absolute_form_keeps_only_path_and_query(target: str, expected: str) -> None:
    assert assert_goes_to_origin(target) == expected


@pytest.mark.parametrize("target", ["*", "evil:443", "evil.example", "", "ftp://evil/x", "http:/x"])
def test_other_forms_are_refused(target: str) -> None:
    assert origin_form(target) is None


@pytest.mark.parametrize(
    "target",
    [
        "/a%2Fb",
        "/a//b",
        "/./a/../b",
        "/%E2%82%AC?x=%20&y=a+b",
        "/p;params?q",
        "/search?" + "q" * 2000,
        "/a?b=%zz&c",
    ],
)
def test_path_and_query_bytes_are_preserved(target: str) -> None:
    url = origin_url(ORIGIN, assert_goes_to_origin(target))
    assert url.raw_path_qs == target
    assert str(url) == ORIGIN + target


def test_origin_with_trailing_slash() -> None:
    assert str(origin_url(ORIGIN + "/", "/x")) == ORIGIN + "/x"


_TARGET_CHARS = st.characters(min_codepoint=33, max_codepoint=126)


@given(st.text(alphabet=_TARGET_CHARS, max_size=60))
@example("//evil.example/x")
@example("http://evil.example")
@example("https://evil/?//x")
@example("/#@evil/")
def test_no_target_ever_leaves_the_origin(target: str) -> None:
    form = origin_form(target)
    if form is None:
        return
    assert_goes_to_origin(target)
    if target.startswith("/"):
        assert form == target


async def test_origin_session_settings_that_keep_the_proxy_transparent() -> None:
    config = OriginConfig(url=ORIGIN, connect_timeout_s=1.5, read_timeout_s=7.0)
    session = create_origin_session(config)
    try:
        assert session.auto_decompress is False
        assert isinstance(session.cookie_jar, DummyCookieJar)
        assert session.trust_env is False
        assert set(SKIP_AUTO_HEADERS) <= {str(h) for h in session.skip_auto_headers}
        assert (session.timeout.total, session.timeout.connect) == (None, 1.5)
        assert session.timeout.sock_read == 7.0
    finally:
        await session.close()
