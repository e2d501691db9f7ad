"""Where cookie-signing keys come from.

``VERNIER_SECRET`` holds ``id:secret`` pairs separated by commas, newest first (rotation: keep the
old pair after the new one until old cookies expired). Without it, a random key is created once in
the data directory (mode 0600), so every worker and every restart share it.

Workers start at once on a fresh data directory, so the file must never be seen half-written:
each writes its own temporary file in full, fsyncs it, and hard-links it to the key's name, which
fails for all but the first (``link`` does not replace). Readers only ever see a whole key.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from proxy.durable import fsync_directory
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
        _create_key_file(path)
    try:
        return parse_secret(path.read_text().strip())
    except ConfigError:
        raise ConfigError(
            f"{path}: not a cookie key ('id:secret', a secret of 16 or more characters); "
            "restore it, or delete it to have a new one made (signed-in cookies end)"
        ) from None


def _create_key_file(path: Path) -> None:
    """A new random key at ``path``, unless another process put one there first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(f"k1:{secrets.token_urlsafe(32)}\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return  # another worker's key is in place: use that one
        fsync_directory(path.parent)
    finally:
        temporary.unlink(missing_ok=True)
