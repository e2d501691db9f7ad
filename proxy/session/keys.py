"""Where cookie-signing keys come from.

``VERNIER_SECRET`` holds ``id:secret`` pairs separated by commas, newest first (rotation: keep the
old pair after the new one until old cookies expired). Without it, a random key is created once in
the data directory (mode 0600), so every worker and every restart share it.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from proxy.errors import ConfigError
from proxy.session.cookie import SigningKey

KEY_FILE = "cookie-secret"
_KEY_ID = re.compile(r"[A-Za-z0-9]{1,8}")


def parse_secret(value: str) -> list[SigningKey]:
    keys: list[SigningKey] = []
    for item in value.split(","):
        key_id, sep, secret = item.strip().partition(":")
        if not sep or not _KEY_ID.fullmatch(key_id) or len(secret) < 16:
            raise ConfigError(
                "VERNIER_SECRET must be 'id:secret' pairs (id 1-8 letters/digits, secret ≥ 16 chars)"
            )
        keys.append(SigningKey(key_id=key_id, secret=secret.encode()))
    return keys


def load_signing_keys(data_dir: Path, environ: Mapping[str, str] | None = None) -> list[SigningKey]:
    env = os.environ if environ is None else environ
    if env.get("VERNIER_SECRET"):
        return parse_secret(env["VERNIER_SECRET"])
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker won the race
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(f"k1:{secrets.token_urlsafe(32)}\n")
    return parse_secret(path.read_text().strip())
