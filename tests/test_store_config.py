"""The store settings a config gives the worker, and the ones a command gets."""

from __future__ import annotations

from pathlib import Path

from proxy.config.load import load_config
from proxy.store_config import COMMAND_OP_TIMEOUT_S, store_for, store_settings


def config_with(tmp_path: Path, store: str) -> Path:
    path = tmp_path / "vernier.yaml"
    path.write_text(f"origin: {{url: 'http://127.0.0.1:9'}}\nstore: {{{store}}}\n")
    return path


async def test_a_command_waits_longer_than_a_page_for_the_store(tmp_path: Path) -> None:
    config = load_config(config_with(tmp_path, "op_timeout_ms: 50"), environ={})
    assert store_settings(config).op_timeout_s == 0.05  # the worker: a page's budget
    store = store_for(config, "redis://127.0.0.1:9/0")
    try:
        assert store.settings.op_timeout_s == COMMAND_OP_TIMEOUT_S
    finally:
        await store.close()


async def test_a_longer_configured_timeout_is_kept_for_commands(tmp_path: Path) -> None:
    config = load_config(config_with(tmp_path, "op_timeout_ms: 8000"), environ={})
    store = store_for(config, "redis://127.0.0.1:9/0")
    try:
        assert store.settings.op_timeout_s == 8.0
    finally:
        await store.close()
