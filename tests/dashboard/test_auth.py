"""The dashboard's session cookie and CSRF tokens: signed with the admin token, expiring."""

from __future__ import annotations

from proxy.dashboard.auth import SESSION_S, AdminAuth

TOKEN = "a-token-of-sixteen-or-more"


def test_a_session_is_valid_until_it_expires() -> None:
    auth = AdminAuth(TOKEN)
    session = auth.new_session(1000.0)
    assert auth.session_valid(session, 1000.0)
    assert auth.session_valid(session, 1000.0 + SESSION_S)
    assert not auth.session_valid(session, 1001.0 + SESSION_S)


def test_a_session_signed_with_another_token_or_altered_is_refused() -> None:
    session = AdminAuth("another-token-of-sixteen").new_session(1000.0)
    auth = AdminAuth(TOKEN)
    assert not auth.session_valid(session, 1000.0)
    mine = auth.new_session(1000.0)
    expiry, _, signature = mine.partition(".")
    assert not auth.session_valid(f"{int(expiry) + 3600}.{signature}", 1000.0)
    for junk in ("", ".", "x.y", "123", "-1.ab"):
        assert not auth.session_valid(junk, 1000.0)


def test_csrf_tokens_are_per_session() -> None:
    auth = AdminAuth(TOKEN)
    first, second = auth.new_session(1000.0), auth.new_session(2000.0)
    assert auth.csrf_valid(first, auth.csrf_for(first))
    assert not auth.csrf_valid(second, auth.csrf_for(first))
    assert not auth.csrf_valid(first, "")
