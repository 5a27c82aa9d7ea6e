"""Password rules and hashing: pure functions, no I/O.

The rules come from the program's policy manual, with the leading platform's as a floor. The
"common or breached" rule uses zxcvbn, whose frequency lists come from real password leaks,
so the list is maintained upstream rather than typed in here. Every broken rule is reported
at once, so a person fixes their choice in one go.

Some passwords pass the composition rules and even zxcvbn's score, yet are what an attacker
tries first against this program's users: a season or month with a year (``Spring2026!``),
a keyboard walk (``1qaz@WSX3edc``), the program's own names (``Cpmrs2026!``), the user's
name or email, and the example the pages show. Each is refused with its own reason.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn
from zxcvbn.matching import spatial_match

from pmp.pdf import AGENCY, PROGRAM

MAX_LENGTH = 128  # zxcvbn's cost grows with length; no one types more than this
MIN_ZXCVBN_SCORE = 3  # 0-4; below 3 the password falls to an offline guess in hours

#: The example the password pages show (they render it from here), refused with its words.
EXAMPLE_PASSWORD = "Heron-Marsh-Lantern-47!"
#: What the program and its agency are called, on every page, letter and report.
PROGRAM_NAMES = ("CPMRS", "PMP", "PDMP", PROGRAM, AGENCY)
SEASONS_AND_MONTHS = frozenset(
    ("spring", "summer", "autumn", "fall", "winter", "january", "february", "march", "april",
     "may", "june", "july", "august", "september", "october", "november", "december", "jan",
     "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec")
)  # fmt: skip
#: A year written with four digits (19xx, 20xx) or two, standing alone among digits.
_YEAR = re.compile(r"(?<!\d)((19|20)\d\d|\d\d)(?!\d)")
#: Keyboards whose walks count (zxcvbn's keypads would take every year for a walk).
_KEYBOARDS = ("qwerty", "dvorak")
_SHORTEST_WALK = 4  # keys in a row; three are common by chance


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
    if password and len(password) <= MAX_LENGTH:
        problems += _guessable(password, [w for w in personal if w])
    return problems


def _is_symbol(c: str) -> bool:
    return not c.isalnum() and not c.isspace() and unicodedata.category(c) != "Cc"


def _guessable(password: str, personal: Sequence[str]) -> list[str]:
    """Why ``password`` is among the first guesses, in words the user can act on."""
    sources = {
        "your name or email": _parts(personal),
        "the program's name": _parts(PROGRAM_NAMES) - {"and", "of"},
        "the example password the pages show": _parts([EXAMPLE_PASSWORD]),
        "a season or month": set(SEASONS_AND_MONTHS),
    }
    problems = []
    letters = _letters(password)
    words = _made_of(letters, set().union(*sources.values()))
    if words:
        used = [name for name, parts in sources.items() if parts.intersection(words)]
        if "a season or month" in used and _YEAR.search(password):
            used[used.index("a season or month")] = "a season or month and a year"
        problems.append(
            f"is built from {' and '.join(used)}, which attackers try first; use words that "
            "have nothing to do with you, this program or the date"
        )
    if _keyboard_walk(password):
        problems.append(
            "is mostly a keyboard pattern (keys next to each other, like 1qaz or qwerty), "
            "which attackers try first; use words instead"
        )
    if not problems:
        hints = [*personal, *PROGRAM_NAMES, EXAMPLE_PASSWORD]
        if zxcvbn(password, user_inputs=hints)["score"] < MIN_ZXCVBN_SCORE:
            problems.append(
                "is too common or too easy to guess (it is like passwords found in breaches); "
                "add unrelated words or characters"
            )
    return problems


def _keyboard_walk(password: str) -> bool:
    """Whether keyboard walks of four keys or more (zxcvbn's spatial matches) cover half of
    ``password`` or more: zxcvbn's own score may call such a password strong, or explain
    ``1qaz@WSX`` as a leaked password instead of a walk."""
    covered: set[int] = set()
    for match in spatial_match(password):
        if match["graph"] in _KEYBOARDS and match["j"] - match["i"] + 1 >= _SHORTEST_WALK:
            covered.update(range(match["i"], match["j"] + 1))
    return 2 * len(covered) >= len(password)


def _letters(text: str) -> str:
    return "".join(c for c in text.casefold() if c.isalpha())


def _parts(words: Iterable[str]) -> set[str]:
    """The words of ``words`` (names, addresses, titles), in lower case, two letters or more."""
    return {
        part
        for word in words
        for part in "".join(c if c.isalpha() else " " for c in word.casefold()).split()
        if len(part) >= 2
    }


def _made_of(letters: str, parts: set[str]) -> list[str]:
    """The ``parts`` that run together make ``letters`` ("zorbulonquixtaveny" from a name),
    longest first where there is a choice; empty when they do not. zxcvbn scores separated
    names as strong when it does not know them, though they are the first guess against
    this user."""
    if not letters or not parts:
        return []
    # last[i]: the part ending letters[:i] on a way to make it of parts (None: no way yet)
    last: list[str | None] = [""] + [None] * len(letters)
    for i in range(len(letters)):
        if last[i] is not None:
            for part in parts:
                end = i + len(part)
                if end < len(last) and last[end] is None and letters.startswith(part, i):
                    last[end] = part
    if last[-1] is None:
        return []
    words, end = [], len(letters)
    while end:
        word = last[end]
        assert word is not None
        words.append(word)
        end -= len(word)
    return words[::-1]


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
