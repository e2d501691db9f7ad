"""``vernier segments``: fit from a real store's profiles, list, show, explain; and the
registry every proxy assigns with (new models loaded, corrupt ones refused)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import secrets
import textwrap
from pathlib import Path

import pytest
from redis.asyncio import Redis

from proxy.cli import main
from proxy.records.segment_model import encode_model
from proxy.request_view import RequestView
from proxy.segments.registry import ClusterContext, SegmentModels
from proxy.store import segment_models
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.embedded import EmbeddedStore
from proxy.store.profiles import save_profile
from tests.redis_server import free_port
from tests.segments.synthetic import profiles

RULES = """
segments:
  - id: buyer
    description: bought something
    when: "conversions >= 1 and score.monetary > 0.2"
  - id: returning-buyer
    when: "'buyer' in segments and visits_30d >= 3"
"""


# a visitor as the proxy names one (32 hex digits), and the cookie value that carries the id
HEX_ID = "0123456789abcdef0123456789abcdef"
COOKIE = f"vernier_vid=v1.k1.{HEX_ID}.t0xyz.AAAAAAAAAAAAAAAAAAAAAA"


async def seed(url: str, prefix: str, count: int, first: int = 0) -> None:
    store = Store(url, StoreSettings(key_prefix=prefix, op_timeout_s=5.0))
    try:
        fields, _ = profiles(count, seed=11 + first)
        for i, profile in enumerate(fields, first):
            version = await save_profile(
                store,
                HEX_ID if i == 0 else f"visitor-{i:04d}",
                expected_version="",
                fields=profile,
                state=b"{}",
                recent=[],
                ttl_s=3600,
            )
            assert version == 1
    finally:
        await store.close()


def cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(args))
    return code, out.getvalue()


@pytest.fixture
def setup(embedded: EmbeddedStore, tmp_path: Path) -> tuple[list[str], str, str]:
    prefix = f"t{secrets.token_hex(4)}:"
    rules = tmp_path / "rules.yaml"
    rules.write_text(textwrap.dedent(RULES).lstrip(), encoding="utf-8")
    config = tmp_path / "vernier.yaml"
    config.write_text(f"store: {{key_prefix: '{prefix}'}}\nsegments: {{min_visitors: 100}}\n")
    common = ["--config", str(config), "--rules", str(rules), "--store", embedded.url]
    return common, embedded.url, prefix


def test_fit_list_show_explain(setup: tuple[list[str], str, str]) -> None:
    common, url, prefix = setup
    asyncio.run(seed(url, prefix, 40))
    code, out = cli("segments", "fit", *common)
    assert code == 1
    assert "not fitted: 40 visitors with a profile; at least 100 are needed (no model yet)" in out

    asyncio.run(seed(url, prefix, 560, first=40))
    code, out = cli("segments", "fit", *common)
    assert code == 0 and "published model 1: 4 clusters over 600 visitors" in out

    code, out = cli("segments", "list", *common)
    assert code == 0
    assert "buyer - bought something" in out
    assert "learned segments: model 1, kmeans, 600 visitors" in out
    assert out.count("(high") + out.count("(low") >= 4

    code, out = cli("segments", "show", "returning-buyer", *common)
    assert "when: 'buyer' in segments and visits_30d >= 3" in out
    assert "tests segments: buyer" in out
    code, out = cli("segments", "show", "c1", *common)
    assert code == 0 and out.startswith("c1: learned cluster of model 1")

    code, out = cli("segments", "explain", "visitor-0001", *common)
    assert code == 0 and out.startswith("cluster c")
    assert "score.monetary > 0.2" in out and "[conversions=" in out
    # the cookie as a browser's tools show it, its value, or the id in it: the same visitor
    answers = {cli("segments", "explain", v, *common) for v in (COOKIE, COOKIE[12:], HEX_ID)}
    assert len(answers) == 1 and next(iter(answers))[0] == 0

    code, out = cli("segments", "fit", *common)  # a refit keeps the labels
    assert "published model 2: 4 clusters" in out


def test_unknown_ids_are_one_line_errors(
    setup: tuple[list[str], str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    common, _, _ = setup
    assert main(["segments", "show", "nope", *common]) == 2
    assert "no segment or cluster 'nope' (known: buyer, returning-buyer)" in capsys.readouterr().err
    assert main(["segments", "explain", "visitor-none", *common]) == 2
    err = capsys.readouterr().err
    assert "vernier: error: no profile for visitor 'visitor-none' in the store at" in err
    gone = f"redis://127.0.0.1:{free_port()}"
    assert main(["segments", "explain", "visitor-0000", *common[:4], "--store", gone]) == 2
    assert f"cannot read the store at {gone}; is it running?" in capsys.readouterr().err
    # nor "no model published" (list, show of a cluster) or a message and exit 1 (fit)
    for action in (["list"], ["show", "c1"], ["fit"]):
        assert main(["segments", *action, *common[:4], "--store", gone]) == 2, action
        captured = capsys.readouterr()
        assert f"vernier: error: cannot read the store at {gone}; is it running?" in captured.err
        assert "no model published" not in captured.out
    # a named segment is shown from the rules alone
    assert main(["segments", "show", "buyer", *common[:4], "--store", gone]) == 0
    assert "when: conversions >= 1" in capsys.readouterr().out


async def test_proxies_load_new_models_and_refuse_corrupt_ones(embedded: EmbeddedStore) -> None:
    from proxy.segments.fit import FitSettings, fit_model
    from tests.segments.synthetic import matrix

    prefix = f"t{secrets.token_hex(4)}:"
    store = Store(embedded.url, StoreSettings(key_prefix=prefix, op_timeout_s=5.0))
    try:
        registry = SegmentModels(store)
        await registry.refresh()
        assert registry.current is None
        fields, _ = profiles(800, seed=12)
        first = fit_model(matrix(fields), previous=None, settings=FitSettings(), now_ms=1)
        assert await segment_models.publish(store, first)
        await registry.refresh()
        assert registry.current is not None and registry.current.model == first

        context: dict[str, object] = dict(fields[0])
        ClusterContext(registry).add_to(context, RequestView.build("GET", "/", {}))
        assert context["cluster"] in first.labels

        broken = bytearray(encode_model(first))
        broken[-10] ^= 1  # one flipped bit inside the model: the checksum no longer matches

        async def write(client: Redis) -> None:
            await client.set(store.keys.segment_model_key(), bytes(broken))
            await client.hset(store.keys.segment_model_meta_key(), "version", 9)

        await store.run(write, default=None)
        await registry.refresh()
        assert registry.refused_total == 1
        assert registry.current.model == first  # the last good model stays
    finally:
        await store.close()
