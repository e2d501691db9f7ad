"""Cookie-signing keys: from VERNIER_SECRET, or one random key made once in the data directory."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from proxy.errors import ConfigError
from proxy.session.keys import KEY_FILE, load_signing_keys, parse_secret


def test_the_environment_wins_newest_first() -> None:
    keys = load_signing_keys(
        Path("/nonexistent"), {"VERNIER_SECRET": "k2:" + "b" * 16 + ",k1:" + "a" * 16}
    )
    assert [k.key_id for k in keys] == ["k2", "k1"]


@pytest.mark.parametrize("value", ["k1", "k1:short", "bad id:" + "a" * 16])
def test_a_malformed_secret_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError, match="VERNIER_SECRET"):
        parse_secret(value)


def test_a_key_is_made_once_private_and_kept(tmp_path: Path) -> None:
    first = load_signing_keys(tmp_path / "data", {})
    assert load_signing_keys(tmp_path / "data", {}) == first
    path = tmp_path / "data" / KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert os.listdir(tmp_path / "data") == [KEY_FILE]  # no temporary file left behind


def start_together(data_dir: Path, workers: int) -> list[object]:
    """``load_signing_keys`` from ``workers`` threads released at once: each one's keys or error."""
    results: list[object] = []
    barrier = threading.Barrier(workers)

    def start() -> None:
        barrier.wait()
        try:
            results.append(load_signing_keys(data_dir, {}))
        except ConfigError as err:  # the bug: a half-written key
            results.append(err)

    threads = [threading.Thread(target=start) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_workers_starting_together_all_read_the_same_whole_key(tmp_path: Path) -> None:
    """Many starts at once on fresh directories (CI once saw a worker read the file before its
    creator had written it): every one gets a key, and the same one as the others."""
    for round_ in range(30):
        results = start_together(tmp_path / f"round{round_}", workers=8)
        assert all(isinstance(r, list) for r in results), results
        assert len({repr(r) for r in results}) == 1


def test_a_damaged_key_file_names_itself(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_text("\n")
    with pytest.raises(ConfigError, match=f"{tmp_path / KEY_FILE}: not a cookie key"):
        load_signing_keys(tmp_path, {})
