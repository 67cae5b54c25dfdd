"""Encryption of secrets kept in the database (judges' API keys).

Keys come from ``ENCRYPTION_KEYS`` (comma-separated Fernet keys, newest first, so a key can be
rotated: new values use the first, old values still decrypt with the others); without it, one key
is derived from ``SECRET_KEY``.
"""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from judgeapp.core.errors import ApplicationError


@cache
def _fernet() -> MultiFernet:
    keys = [k.strip() for k in settings.ENCRYPTION_KEYS if k.strip()]
    if not keys:
        digest = hashlib.sha256(b"judgeapp-secrets:" + settings.SECRET_KEY.encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ApplicationError(
            "A stored API key cannot be decrypted with the configured keys "
            "(SECRET_KEY or ENCRYPTION_KEYS changed?); enter the key again."
        ) from exc
