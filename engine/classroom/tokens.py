"""The classroom's secrets: student and instructor tokens. Random (192 bits from `secrets`), stored only as
SHA-256 digests (a stolen database holds no usable token), compared in constant time, and shape-checked before any
lookup so that odd input (not text, megabytes, lookalike characters) is simply "no match", never an error.

A plain SHA-256 is enough here: the tokens are random with 192 bits, so there is no dictionary to try against a
digest; slow password hashes protect low-entropy secrets people choose."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import TypeGuard

TOKEN_BYTES = 24  # 192 random bits
TOKEN_CHARS = 32  # what `secrets.token_urlsafe(TOKEN_BYTES)` makes of them (base64url, no padding)
MAX_TOKEN_CHARS = 64  # room for longer tokens later; anything longer is not one of ours
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+")  # base64url's alphabet, ASCII only
_DIGEST_SHAPE = re.compile(r"[0-9a-f]{64}")


def new_token() -> str:
    """A fresh random token (32 URL-safe characters): give it to its holder once and keep only its digest.

    Never one starting with "-": a command line would read `--student -Abc...` as an option and refuse it (1 token
    in 64 did). Drawing again keeps every other token equally likely, so the entropy lost is under 0.03 bits."""
    while True:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        if not token.startswith("-"):
            return token


def token_digest(token: str) -> str:
    """The hex SHA-256 of a token: what the database keeps and looks up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(text: object) -> TypeGuard[str]:
    """Whether `text` has a token's shape (text, TOKEN_CHARS..MAX_TOKEN_CHARS URL-safe ASCII characters): checked
    before anything is hashed or looked up, so megabytes or stray Unicode cost nothing."""
    return (
        isinstance(text, str)
        and TOKEN_CHARS <= len(text) <= MAX_TOKEN_CHARS
        and _TOKEN_SHAPE.fullmatch(text) is not None
    )


def tokens_match(token: object, digest: object) -> bool:
    """Whether `token` is the one whose digest is `digest`, compared in constant time; False for any odd input."""
    if not looks_like_token(token) or not isinstance(digest, str) or _DIGEST_SHAPE.fullmatch(digest) is None:
        return False
    # Compare digests, not tokens: equal lengths always, and the time taken says nothing about the stored secret.
    return hmac.compare_digest(token_digest(token), digest)
