"""Which usernames can be registered: a documented character set, and no look-alike of a
name already taken. Look-alikes are found by UTS #39 skeletons, from the Unicode confusables
table that `confusable_homoglyphs` ships (the package has no skeleton function of its own).

Plain Python, no Django: the fake-data generator plans its names with it too."""

from __future__ import annotations

import hashlib
import unicodedata
from functools import cache

from confusable_homoglyphs.confusables import confusables_data

USERNAME_MAX = 150
USERNAME_PATTERN = rf"^[A-Za-z0-9_.\-]{{1,{USERNAME_MAX}}}$"
USERNAME_RULE = f"1 to {USERNAME_MAX} characters: ASCII letters, digits, '.', '_' and '-'."
# The table wraps right-to-left characters in direction marks, which are not part of them.
_DIRECTION_MARKS = "\u200e\u200f"


@cache
def _prototype(char: str) -> str:
    """What `char` looks like, as UTS #39 maps it. The table lists, for a prototype, every
    character that looks like it, and for any other character only its prototype."""
    homoglyphs = confusables_data.get(char)
    if not homoglyphs or len(homoglyphs) != 1:
        return char
    other = homoglyphs[0]["c"].strip(_DIRECTION_MARKS)
    if len(confusables_data.get(other, ())) == 1 and other > char:
        return char  # two characters that only look like each other: the smaller is both
    return other


def skeleton(text: str) -> str:
    """UTS #39 skeleton: NFD, each character replaced by its prototype, NFD again."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", "".join(_prototype(char) for char in decomposed))


def username_skeleton(username: str) -> str:
    """Usernames with the same skeleton look alike: skeleton, case-folded, skeleton again, so
    `I`, `l` and `1` (or `0` and `o`) meet whatever their case."""
    return skeleton(skeleton(username).casefold())


def username_key(username: str) -> str:
    """The skeleton as a fixed-length key (SHA-256, hex), for a unique database column."""
    return hashlib.sha256(username_skeleton(username).encode()).hexdigest()
