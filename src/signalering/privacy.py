"""Pseudonymisation of contacts and authors with a keyed hash.

The key comes from configuration (``privacy.pseudonym_key`` or the
``SIGNALERING_PRIVACY_PSEUDONYM_KEY`` environment variable) and never lives in the
repository. The same value under the same key always gives the same
pseudonym, so posts still link through shared contacts without showing them.
"""

from __future__ import annotations

import hashlib
import hmac


def pseudonymise(value: str, key: bytes | str, *, kind: str = "id") -> str:
    """Keyed, stable pseudonym for ``value``.

    >>> pseudonymise("+447700900123", b"k", kind="phone")[:6]
    'phone:'
    """
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not key:
        raise ValueError("pseudonymisation key is empty")
    digest = hmac.new(key, value.strip().casefold().encode("utf-8"), hashlib.sha256)
    return f"{kind}:{digest.hexdigest()[:16]}"
