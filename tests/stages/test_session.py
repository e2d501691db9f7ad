"""session alone: who is asking, from signed cookies, and whether Vernier may know."""

from __future__ import annotations

from proxy.exchange import Identity
from proxy.stages.session import Session
from tests.stages.factory import make_config, make_exchange, make_issuer


async def identity_of(session: Session, **request: object) -> Identity:
    ex = make_exchange(**request)  # type: ignore[arg-type]
    await session(ex)
    return ex.identity


async def test_signed_ids_are_read_and_forged_ones_ignored() -> None:
    issuer = make_issuer()
    issued = Identity()
    cookies = {}
    for header in issuer.issue_missing(issued):
        name, value = header.split(";", 1)[0].split("=", 1)
        cookies[name] = value
    session = Session(issuer)
    known = await identity_of(session, cookies=cookies)
    assert (known.session_id, known.visitor_id) == (issued.session_id, issued.visitor_id)
    assert known.trackable and not known.new_session
    forged = {name: value[:-2] + "xx" for name, value in cookies.items()}
    assert await identity_of(session, cookies=forged) == Identity()
    assert await identity_of(session) == Identity()


async def test_privacy_choices_mean_no_ids() -> None:
    session = Session(make_issuer())
    assert await identity_of(session, headers={"Sec-GPC": "1"}) == Identity(trackable=False)
    assert await identity_of(session, cookies={"vernier_consent": "0"}) == Identity(trackable=False)
    required = Session(make_issuer(make_config(**{"session.consent": "required"})))
    assert await identity_of(required) == Identity(trackable=False, consent_pending=True)
    assert (await identity_of(required, cookies={"vernier_consent": "1"})).trackable
