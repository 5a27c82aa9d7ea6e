"""What a person choosing a password is told: every broken rule at once, common passwords and
ones made of their own name refused, recent passwords not reused; and how hashes age."""

from __future__ import annotations

import random
import string
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.identity.domain import Account, IdentityPolicy, new_account
from services.identity.passwords import (
    EXAMPLE_PASSWORD,
    Hasher,
    PasswordRejected,
    PasswordRules,
    normalise_answer,
    problems_with,
    temporary_password,
)

HASHER = Hasher(1, 1024, 1)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
UPPER, LOWER, DIGITS, SYMBOLS = (
    string.ascii_uppercase,
    string.ascii_lowercase,
    "0123456789",
    "!#%*@-_+=?$&",
)

RULE_WORDS = {
    "upper": "upper-case letter",
    "digit": "must contain a digit",
    "symbol": "must contain a symbol",
    "length": "at least 8 characters",
}
COMMON = "too common"
GUESSES = ("built from", "keyboard pattern")  # the other reasons a password is guessable

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def account(first="Pat", last="Okafor", email=None) -> Account:
    """A fresh account (no password yet) as its creation event leaves it."""
    acc = Account(str(uuid.uuid4()))
    email = email or f"{first}.{last}@example.org".lower()
    for kind, data in new_account(acc.account_id, email, first, last, "prescriber", ["1 Main St"]):
        acc.apply(kind, data, NOW)
        acc.version += 1
    return acc


DEFAULT = IdentityPolicy()


def rejection(password: str, acc: Account | None = None, policy=DEFAULT) -> list[str]:
    """The problems a person is shown for ``password``; [] when it is accepted."""
    try:
        (acc or account()).check_new_password(password, policy, HASHER)
    except PasswordRejected as exc:
        assert exc.problems and all(p in str(exc) for p in exc.problems)
        return exc.problems
    return []


def broken(problems: list[str]) -> set[str]:
    return {rule for rule, words in RULE_WORDS.items() if any(words in p for p in problems)}


def strong_password(seed: int, length: int) -> str:
    """Random material with every class present, as a password manager would make it."""
    rng = random.Random(seed)
    chars = [rng.choice(UPPER), rng.choice(DIGITS), rng.choice(SYMBOLS), rng.choice(LOWER)]
    alphabet = UPPER + LOWER + DIGITS + SYMBOLS
    chars += [rng.choice(alphabet) for _ in range(length - len(chars))]
    rng.shuffle(chars)
    return "".join(chars)


@st.composite
def flawed_passwords(draw) -> tuple[str, set[str]]:
    """A password from random characters of some classes, with the rules it breaks."""
    keep = draw(
        st.fixed_dictionaries(
            {rule: st.booleans() for rule in RULE_WORDS},
        ).filter(lambda k: not all(k.values()))
    )
    classes = [LOWER] + [
        a for rule, a in (("upper", UPPER), ("digit", DIGITS), ("symbol", SYMBOLS)) if keep[rule]
    ]
    size = draw(st.integers(16, 40) if keep["length"] else st.integers(len(classes), 7))
    chars = [draw(st.sampled_from(alphabet)) for alphabet in classes]
    everything = "".join(classes)
    chars += draw(
        st.lists(
            st.sampled_from(everything), min_size=size - len(chars), max_size=size - len(chars)
        )
    )
    chars = draw(st.permutations(chars))
    return "".join(chars), {rule for rule, kept in keep.items() if not kept}


@FAST
@given(flawed_passwords())
def test_a_password_breaking_rules_is_refused_naming_every_broken_rule_and_no_other(case):
    password, expected = case
    problems = rejection(password)
    assert problems, f"{password!r} was accepted"
    assert broken(problems) == expected, problems
    explained = [*RULE_WORDS.values(), COMMON, *GUESSES]
    unexplained = [p for p in problems if not any(w in p for w in explained)]
    assert unexplained == []


@FAST
@given(seed=st.integers(0, 2**64), length=st.integers(16, 64))
def test_a_long_random_password_with_every_class_is_accepted(seed, length):
    password = strong_password(seed, length)
    assert rejection(password) == [], password


def test_the_minimum_length_is_configurable():
    policy = IdentityPolicy(password=PasswordRules(min_length=20))
    password = strong_password(7, 19)
    assert rejection(password) == []  # fine under the default of 8
    assert any("at least 20 characters" in p for p in rejection(password, policy=policy))
    assert rejection(strong_password(7, 20), policy=policy) == []


@pytest.mark.parametrize(
    "password", ["Password1!", "Welcome1!", "P@ssw0rd123", "Letmein1!", "Iloveyou2!"]
)
def test_a_common_password_is_refused_as_common_even_though_it_has_every_class(password):
    problems = rejection(password)
    assert len(problems) == 1 and COMMON in problems[0], problems


@pytest.mark.parametrize(
    "password",
    [
        "Zorbulon.Quixtaveny1!",  # the email's local part
        "Quixtaveny2024!",  # the surname and a year
        "ZorbulonQuixtaveny1!",  # the full name run together
        "Zorbulon-Quixtaveny7!",  # the full name with a separator
        "Quixtaveny Zorbulon 9#",  # surname first
    ],
)
def test_a_password_made_of_the_users_own_name_is_refused(password):
    owner = account("Zorbulon", "Quixtaveny")
    problems = rejection(password, owner)
    assert len(problems) == 1 and "built from your name or email" in problems[0], problems
    # the same password is fine for someone else: the name is what makes it guessable
    assert rejection(password, account("Pat", "Okafor")) == []


def only_reason(password: str, acc: Account | None = None) -> str:
    problems = rejection(password, acc)
    assert len(problems) == 1, (password, problems)
    return problems[0]


@pytest.mark.parametrize(
    "password,reason",
    [
        ("Spring2026!", "is built from a season or month and a year"),
        ("Cpmrs2026!", "is built from the program's name"),
        ("1qaz@WSX3edc", "is mostly a keyboard pattern"),
        (EXAMPLE_PASSWORD, "is built from the example password the pages show"),
    ],
)
def test_the_probes_passwords_are_refused_each_with_its_reason(password, reason):
    """Each passed the composition rules and zxcvbn's score, and was accepted before."""
    assert only_reason(password).startswith(reason)


@pytest.mark.parametrize(
    "password", ["Summer2024!", "Summer24!!", "2026-December!", "Autumn-Fall-1999#", "JUL2025?"]
)
def test_a_season_or_month_with_a_year_is_refused(password):
    assert "a season or month and a year" in only_reason(password)


@pytest.mark.parametrize(
    "password", ["Qwerty123!", "zxcvbnm,./ASDF1!", "Poiuy7!Lkjh", "!QAZ2wsx#EDC", "Asdfghjkl;9"]
)
def test_a_keyboard_walk_is_refused(password):
    assert "keyboard pattern" in only_reason(password)


@pytest.mark.parametrize(
    "password", ["CPMRS-pmp-2026!", "Pdmp#Cpmrs77", "Drug-Control-Division1!", "Connecticut#2026"]
)
def test_the_programs_names_are_refused(password):
    assert "the program's name" in only_reason(password)


@pytest.mark.parametrize("password", ["Lantern-Heron-Marsh-99#", "HeronLantern#2024"])
def test_the_example_the_pages_show_is_refused_even_reordered_or_renumbered(password):
    assert "the example password the pages show" in only_reason(password)


def test_a_password_mixing_the_users_name_with_a_month_names_both():
    reason = only_reason("Zorbulon-March-2026!", account("Zorbulon", "Quixtaveny"))
    assert "your name or email and a season or month and a year" in reason


@pytest.mark.parametrize(
    "password",
    ["Willow-Copper-Harbor-93!", "Osprey-Quarry-Velvet-58!", "Mayflower-Orchid-Tandem-26!",
     "Marching-Walrus-Pickle-1999!", "Tqa7!zxPw4Ld"],
)  # fmt: skip
def test_words_that_only_contain_a_month_or_a_short_walk_are_accepted(password):
    assert rejection(password) == []


def set_passwords(acc: Account, passwords: list[str], policy: IdentityPolicy) -> None:
    """Set each of ``passwords`` in turn, as the user changing their password would."""
    current = None
    for password in passwords:
        changes = acc.change_password(current, password, NOW, policy, HASHER)
        for kind, data in changes:
            acc.apply(kind, data, NOW)
            acc.version += 1
        current = password


@pytest.mark.parametrize("history", [1, 3, 5])
def test_the_last_n_passwords_are_refused_and_the_one_before_them_is_accepted(history):
    policy = IdentityPolicy(password=PasswordRules(history=history))
    passwords = [strong_password(seed, 16) for seed in range(history + 1)]
    acc = account()
    set_passwords(acc, passwords, policy)  # the newest is last

    for recent in passwords[-history:]:
        problems = rejection(recent, acc, policy)
        assert len(problems) == 1, problems
        expected = "your last password" if history == 1 else f"your last {history} passwords"
        assert expected in problems[0]
    oldest = passwords[0]  # history + 1 passwords back
    assert rejection(oldest, acc, policy) == []
    changes = acc.change_password(passwords[-1], oldest, NOW, policy, HASHER)
    assert changes[0][0] == "PasswordChanged"


def test_a_rule_and_history_problem_are_reported_together():
    policy = IdentityPolicy(password=PasswordRules(history=2, min_length=30))
    acc = account()
    reused = strong_password(1, 20)
    set_passwords(acc, [reused], IdentityPolicy())
    problems = rejection(reused, acc, policy)
    assert any("at least 30" in p for p in problems)
    assert any("last 2 passwords" in p for p in problems)


def test_changing_the_password_needs_the_current_one():
    acc = account()
    first, second = strong_password(1, 18), strong_password(2, 18)
    set_passwords(acc, [first], IdentityPolicy())
    with pytest.raises(PasswordRejected, match="current password is not right"):
        acc.change_password("not-" + first, second, NOW, IdentityPolicy(), HASHER)


# -- security answers ---------------------------------------------------------------------------

ANSWER_TEXT = st.text(
    alphabet=st.characters(categories=["L", "N", "P", "Z", "S", "M"]), max_size=40
)
WORDS = st.lists(
    st.text(alphabet=string.ascii_letters + string.digits + "éüçñ", min_size=1, max_size=10),
    min_size=1,
    max_size=5,
)


@FAST
@given(ANSWER_TEXT)
def test_normalising_an_answer_twice_changes_nothing(answer):
    once = normalise_answer(answer)
    assert normalise_answer(once) == once


@FAST
@given(
    words=WORDS,
    spaces=st.lists(st.sampled_from([" ", "  ", "\t", " - ", ". ", ", "]), min_size=6, max_size=6),
    punctuation=st.lists(st.sampled_from(list("'.,!?\"-()")), min_size=6, max_size=6),
    upper=st.lists(st.booleans(), min_size=60, max_size=60),
)
def test_an_answer_matches_whatever_its_case_spacing_and_punctuation(
    words, spaces, punctuation, upper
):
    plain = " ".join(words)
    typed = "".join(f"{punctuation[i]}{word}{spaces[i]}" for i, word in enumerate(words))
    typed = "".join(c.upper() if upper[i % 60] else c for i, c in enumerate(typed))
    assert normalise_answer(typed) == normalise_answer(plain)
    assert normalise_answer(typed) == normalise_answer(plain.lower())


def test_different_answers_stay_different():
    assert normalise_answer("Rex") != normalise_answer("Max")
    assert normalise_answer("New York") != normalise_answer("Newark")
    assert normalise_answer("Zoë") == normalise_answer("zoe")


# -- generated passwords and hashes ----------------------------------------------------------------


def test_a_temporary_password_always_meets_the_policy():
    seen = set()
    for _ in range(150):
        password = temporary_password()
        assert problems_with(password, PasswordRules()) == [], password
        assert rejection(password) == [], password
        seen.add(password)
    assert len(seen) == 150  # random, not a fixed list


def test_a_hash_made_at_a_lower_cost_needs_rehashing_and_still_verifies():
    password = strong_password(3, 20)
    cheap = Hasher(1, 1024, 1)
    stored = cheap.hash(password)
    assert not cheap.needs_rehash(stored)
    for dearer in (Hasher(2, 1024, 1), Hasher(1, 2048, 1), Hasher(1, 1024, 2)):
        assert dearer.needs_rehash(stored)
        assert dearer.verify(stored, password)
        assert not dearer.verify(stored, password + "x")
        rehashed = dearer.hash(password)
        assert not dearer.needs_rehash(rehashed)
        assert cheap.verify(rehashed, password)  # the parameters travel with the hash


def test_verifying_against_no_hash_or_a_damaged_one_is_false():
    assert HASHER.verify(None, "anything") is False
    assert HASHER.verify("not-a-hash", "anything") is False
    assert HASHER.verify("", "") is False
