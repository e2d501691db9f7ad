"""``vernier demo``: the bundled shop as the origin, Vernier in front, the embedded store."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from proxy.config.load import load_config
from proxy.demo.shop import run_shop, shop_port
from proxy.server.safety import check_aiohttp
from proxy.server.workers import run_loop, serve
from proxy.store.embedded import EmbeddedStore

DEMO_RULES = Path(__file__).parent / "rules"  # the four scenarios of rules/README.md


async def _demo(listen: str, data_dir: Path, store_url: str, rules: Path) -> None:
    shop = await run_shop("127.0.0.1", 0)
    origin = f"http://127.0.0.1:{shop_port(shop)}"
    config = load_config(
        None,
        overrides={
            "origin.url": origin,
            "server.listen": listen,
            "data_dir": str(data_dir),
            "rules": str(rules),
            "admin.listen": "",
        },
    )

    def announce(where: str) -> None:
        print(
            f"Vernier demo: open {where}/ in a browser\n"
            f"  (the shop without Vernier: {origin}/; Ctrl-C stops both)",
            file=sys.stderr,
            flush=True,
        )

    try:
        await serve(
            config,
            store_url=store_url,
            instance=secrets.token_hex(4),
            reuse_port=False,
            with_admin=False,
            on_ready=announce,
        )
    finally:
        await shop.cleanup()


def run_demo(*, listen: str, data_dir: Path, rules: Path = DEMO_RULES) -> int:
    check_aiohttp()
    data_dir.mkdir(parents=True, exist_ok=True)
    store = EmbeddedStore(data_dir / "store")
    store.start()
    try:
        run_loop(_demo(listen, data_dir, store.url, rules))
    finally:
        store.stop()
    return 0
