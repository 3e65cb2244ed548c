"""Tokens: random and unique, digests that are hashlib's SHA-256, and odd input answered False without raising."""

from __future__ import annotations

import hashlib
import hmac
import re
import string

import pytest

from engine.classroom import tokens
from engine.classroom.tokens import looks_like_token, new_token, token_digest, tokens_match


def test_tokens_are_32_url_safe_characters_and_unique() -> None:
    made = [new_token() for _ in range(5000)]
    assert len(set(made)) == len(made)
    assert all(len(token) == 32 and re.fullmatch(r"[A-Za-z0-9_-]{32}", token) for token in made)
    assert all(looks_like_token(token) for token in made)
    # 192 random bits: every base64url character shows up across 5,000 tokens (a constant or short alphabet would not).
    assert len(set("".join(made))) == 64
    # None starts with "-", which a command line would take for an option (about 78 of 5,000 would otherwise).
    assert not any(token.startswith("-") for token in made)
    assert {token[0] for token in made} == set(string.ascii_letters + string.digits + "_")


def test_digest_is_hashlibs_sha256_hex() -> None:
    token = new_token()
    assert token_digest(token) == hashlib.sha256(token.encode()).hexdigest()
    assert token_digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # FIPS 180-2


def test_a_token_matches_its_own_digest_only() -> None:
    token, other = new_token(), new_token()
    assert tokens_match(token, token_digest(token))
    assert not tokens_match(other, token_digest(token))
    assert not tokens_match(token, token_digest(token).upper())  # digests are stored lower-case
    digest = token_digest(token)
    one_off = digest[:-1] + ("1" if digest[-1] == "0" else "0")
    assert not tokens_match(token, one_off)


def test_the_comparison_is_hmacs_constant_time_one(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[object, object]] = []
    compare = hmac.compare_digest

    def recording(a: str, b: str) -> bool:
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(tokens.hmac, "compare_digest", recording)
    token = new_token()
    assert tokens_match(token, token_digest(token))
    assert calls == [(token_digest(token), token_digest(token))]


ODD_TOKENS: list[object] = [
    None,
    12345,
    b"A" * 32,
    ["A" * 32],
    "",
    "A" * 31,
    "A" * 65,
    "A" * 10_000_000,
    "A" * 31 + "\n",
    " " + "A" * 32,
    "A" * 31 + "=",
    "Ａ" * 32,  # full-width letters
    "A" * 31 + "\u0430",  # Cyrillic a
    "A" * 31 + "\ud800",  # a lone surrogate: cannot even be encoded as UTF-8
    "A" * 31 + "\x00",
]


@pytest.mark.parametrize("odd", ODD_TOKENS, ids=lambda value: repr(value)[:20])
def test_odd_tokens_are_false_without_raising(odd: object) -> None:
    digest = token_digest("A" * 32)
    assert not looks_like_token(odd)
    assert tokens_match(odd, digest) is False


@pytest.mark.parametrize(
    "odd_digest",
    [None, b"0" * 64, "", "0" * 63, "0" * 65, "g" * 64, "é" * 64, "0" * 10_000_000, 0],
    ids=lambda value: repr(value)[:20],
)
def test_odd_digests_are_false_without_raising(odd_digest: object) -> None:
    assert tokens_match(new_token(), odd_digest) is False
