"""``PasswordPolicy`` on zxcvbn 4.5: common, built from the user's details, or guessable.

Three rules; the first that fires gives the problems:

1. Common. The password, lower-cased and also without up to five trailing digits or
   symbols ("Password123!" -> "password"), is in zxcvbn's shipped ``passwords`` frequency
   list (30,000 entries from leaked-password corpora, lower-case ASCII, 4+ characters).
   Held as a frozenset built once per instance.
2. Built from the user's details. Its letters and digits, less trailing digits, are
   nothing but words of the user's inputs ("Ada.Lovelace!", "adalovelace1" or
   "ada-example" for ada.lovelace@example.com). zxcvbn alone lets some of these through:
   it charges every extra part of a match sequence 10,000 guesses, so "ada" + "-" +
   "example" scores 2.
3. Guessable. zxcvbn's score is below ``min_score``. zxcvbn gets the user's inputs
   expanded (email local part, its words, the words joined: "ada.lovelace" ->
   "adalovelace"), because it matches inputs only as whole substrings and would otherwise
   read "adalovelace1" as a first name plus a surname (score 3).

Cost, measured on zxcvbn 4.5 / CPython 3.11 (see the timing test). zxcvbn's l33t matcher
enumerates substitution tables and re-scans the password against every dictionary for each:
time grows as tables x length^2. A password holding every l33t character ("4@8({[<369!1|7
$5+%2") yields 736 tables: 64 such characters take ~1.5 s, 128 take ~5.5 s, a known denial
of service (dwolfhub/zxcvbn-python#70). 4.5's only guard is ``max_length=72``, which raises
``ValueError`` rather than truncating. So only a prefix is scored: at most 64 characters
(a typical 64-character password takes 10-20 ms; 128 random printable characters take up
to ~0.5 s), shortened while tables x length^2 exceeds ``L33T_BUDGET`` (~20 ms of work),
but never below 12 characters. The common-password and details rules always see the whole
password. A password whose scored prefix is strong is strong.

zxcvbn() keeps the user inputs in a module-level dict between storing and matching, so
concurrent calls from threads could score against each other's inputs: calls are
serialized by a lock (the GIL serializes them anyway).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence

from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS
from zxcvbn.matching import L33T_TABLE, enumerate_l33t_subs, relevant_l33t_subtable

COMMON_PASSWORD = "This is one of the most common passwords."
BUILT_FROM_DETAILS = "Don't build your password from your name or email address."
TOO_GUESSABLE = "This password is too easy to guess."

MAX_SCORED_LENGTH = 64
MIN_SCORED_LENGTH = 12
# l33t tables x scored length^2: what a 64-character password with 8 tables costs.
L33T_BUDGET = 8 * MAX_SCORED_LENGTH**2
MIN_INPUT_LENGTH = 3

_TRAILING_DECORATION = re.compile(r"[\d\W_]{1,5}$")
_NON_WORD = re.compile(r"[\W_]+")
_zxcvbn_lock = threading.Lock()


def _letters_and_digits(text: str) -> str:
    return "".join(_NON_WORD.split(text.lower()))


def context_words(user_inputs: Sequence[str]) -> list[str]:
    """The user's inputs as zxcvbn should see them: each input, an email's local part,
    their words (3+ characters; not an email's top-level domain) and the words joined.
    Most specific first: zxcvbn ranks them by position."""
    words: dict[str, None] = {}
    for raw in user_inputs:
        text = raw.strip().lower()
        local, at, domain = text.rpartition("@")
        if not at:
            local, domain = text, ""
        parts = [part for part in _NON_WORD.split(local) if part]
        domain_parts = [part for part in _NON_WORD.split(domain) if part][:-1]
        for word in (text, local, "".join(parts), *parts, *domain_parts):
            if len(word) >= MIN_INPUT_LENGTH:
                words[word] = None
    return list(words)


def scored_prefix(password: str) -> str:
    """The part of the password given to zxcvbn, bounded in cost (see the module doc)."""
    prefix = password[:MAX_SCORED_LENGTH]
    tables = len(enumerate_l33t_subs(relevant_l33t_subtable(prefix, L33T_TABLE)))
    if tables * len(prefix) ** 2 <= L33T_BUDGET:
        return prefix
    return prefix[: max(MIN_SCORED_LENGTH, math.isqrt(L33T_BUDGET // tables))]


class ZxcvbnPasswordPolicy:
    def __init__(self, min_score: int = 2) -> None:
        if not 0 <= min_score <= 4:
            raise ValueError(f"min_score must be 0..4, got {min_score}")
        self._min_score = min_score
        self._common = frozenset(FREQUENCY_LISTS["passwords"])

    def problems(self, password: str, user_inputs: Sequence[str] = ()) -> list[str]:
        if self._is_common(password):
            return [COMMON_PASSWORD]
        words = context_words(user_inputs)
        if self._is_built_from(password, words):
            return [BUILT_FROM_DETAILS]
        scored = scored_prefix(password)
        if not scored:  # zxcvbn 4.5 raises IndexError on ""
            return [TOO_GUESSABLE]
        with _zxcvbn_lock:
            result = zxcvbn(scored, user_inputs=words, max_length=MAX_SCORED_LENGTH)
        if result["score"] >= self._min_score:
            return []
        uses_details = any(m.get("dictionary_name") == "user_inputs" for m in result["sequence"])
        feedback = result["feedback"]
        headline = feedback["warning"] or (BUILT_FROM_DETAILS if uses_details else TOO_GUESSABLE)
        return list(dict.fromkeys([headline, *feedback["suggestions"]]))

    def _is_common(self, password: str) -> bool:
        lowered = password.strip().lower()
        return lowered in self._common or _TRAILING_DECORATION.sub("", lowered) in self._common

    @staticmethod
    def _is_built_from(password: str, words: Sequence[str]) -> bool:
        """Whether the password's letters and digits, less trailing digits, split wholly
        into the user's words (a word break over at most a few dozen pieces)."""
        core = _letters_and_digits(password).rstrip("0123456789")
        pieces = {_letters_and_digits(word) for word in words} - {""}
        if len(core) < MIN_INPUT_LENGTH or not pieces:
            return False
        splits = [True] + [False] * len(core)  # splits[k]: core[:k] is made of pieces
        for end in range(1, len(core) + 1):
            splits[end] = any(
                len(piece) <= end and splits[end - len(piece)] and core.endswith(piece, 0, end)
                for piece in pieces
            )
        return splits[-1]
