"""Secret tokens sent by e-mail or shown once (invitations, join requests, API keys).

Only the SHA-256 of a token is stored: the tokens are 32 random bytes, so a fast hash is
enough (there is nothing to brute-force the way a password can be).
"""

import hashlib
import secrets


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
