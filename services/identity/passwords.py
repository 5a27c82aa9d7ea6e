"""Password rules and hashing: pure functions, no I/O.

The rules come from the program's policy manual, with the leading platform's as a floor. The
"common or breached" rule uses zxcvbn, whose frequency lists come from real password leaks,
so the list is maintained upstream rather than typed in here. Every broken rule is reported
at once, so a person fixes their choice in one go.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

MAX_LENGTH = 128  # zxcvbn's cost grows with length; no one types more than this
MIN_ZXCVBN_SCORE = 3  # 0-4; below 3 the password falls to an offline guess in hours


@dataclass(frozen=True)
class PasswordRules:
    min_length: int = 8
    history: int = 12


class PasswordRejected(ValueError):
    """A new password breaks rules; ``problems`` names each one in words a person reads."""

    def __init__(self, problems: Sequence[str]):
        super().__init__("The password " + "; ".join(problems) + ".")
        self.problems = list(problems)


def problems_with(password: str, rules: PasswordRules, personal: Iterable[str] = ()) -> list[str]:
    """Every rule ``password`` breaks; empty when it is acceptable.

    ``personal`` holds words about the user (name, email) that must not make up the password.
    History is checked separately, because it needs the stored hashes.
    """
    problems = []
    if len(password) < rules.min_length:
        problems.append(f"must be at least {rules.min_length} characters long")
    if len(password) > MAX_LENGTH:
        problems.append(f"must be at most {MAX_LENGTH} characters long")
    if not any(c.isupper() for c in password):
        problems.append("must contain an upper-case letter")
    if not any(c.isdigit() for c in password):
        problems.append("must contain a digit")
    if not any(_is_symbol(c) for c in password):
        problems.append("must contain a symbol such as ! # % or *")
    if password and len(password) <= MAX_LENGTH and _guessable(password, personal):
        problems.append(
            "is too common or too easy to guess (it is like passwords found in breaches, "
            "or built from your name or email); add unrelated words or characters"
        )
    return problems


def _is_symbol(c: str) -> bool:
    return not c.isalnum() and not c.isspace() and unicodedata.category(c) != "Cc"


def _guessable(password: str, personal: Iterable[str]) -> bool:
    words = [w for w in personal if w]
    if _made_of(password, words):
        return True
    return zxcvbn(password, user_inputs=words)["score"] < MIN_ZXCVBN_SCORE


def _made_of(password: str, personal: Sequence[str]) -> bool:
    """Whether the letters of ``password`` are nothing but the user's own words run together
    ("ZorbulonQuixtaveny1!", "Quixtaveny Zorbulon 9#"): zxcvbn scores separated names as
    strong when it does not know them, though they are the first guess against this user."""
    parts = {
        part
        for word in personal
        for part in "".join(c if c.isalpha() else " " for c in word.casefold()).split()
        if len(part) >= 2
    }
    letters = "".join(c for c in password.casefold() if c.isalpha())
    if not letters or not parts:
        return False
    reachable = [True] + [False] * len(letters)  # reachable[i]: letters[:i] is made of parts
    for i in range(len(letters)):
        if reachable[i]:
            for part in parts:
                if letters.startswith(part, i):
                    reachable[i + len(part)] = True
    return reachable[-1]


class Hasher:
    """argon2id with the configured cost; knows when a stored hash needs upgrading."""

    def __init__(self, time_cost: int = 2, memory_kib: int = 19456, parallelism: int = 1):
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        # Spent on sign-ins for unknown accounts, so they take as long as real ones.
        self._decoy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, secret: str) -> str:
        return self._hasher.hash(secret)

    def verify(self, stored: str | None, secret: str) -> bool:
        """Whether ``secret`` matches ``stored``; with no stored hash, spend the same time."""
        try:
            return self._hasher.verify(stored or self._decoy, secret) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)

    def matches_any(self, hashes: Iterable[str], secret: str) -> bool:
        return any(self.verify(h, secret) for h in hashes)


def normalise_answer(answer: str) -> str:
    """Security answers compare case-, accent-, space- and punctuation-insensitively."""
    # Decompose before folding too: compatibility characters ("𝘈", "Ⓐ") decompose to
    # letters that still need folding (Unicode's compatibility caseless match).
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", answer).casefold())
    kept = "".join(c for c in folded if c.isalnum() or c.isspace())
    return " ".join(kept.split())


_TEMPORARY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
_TEMPORARY_SYMBOLS = "#%+=?@"


def temporary_password() -> str:
    """A random password for a posted letter: no look-alike characters, every class present."""
    while True:
        body = "".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(12))
        candidate = f"{body[:4]}-{body[4:8]}{secrets.choice(_TEMPORARY_SYMBOLS)}{body[8:]}"
        if any(c.isupper() for c in candidate) and any(c.isdigit() for c in candidate):
            return candidate
