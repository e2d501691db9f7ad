"""What RFC 9110 (§5.6.2) calls a token: a header field's name, a coding's, a cookie's."""

from __future__ import annotations

import re

HTTP_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
