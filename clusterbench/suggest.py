"""The one "did you mean" hint of every validation message (inventory, scenario, workloads).

A leaf module: no project imports, so every layer can use it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: Longer words get no hint: every name clusterbench knows is far shorter.
MAX_WORD = 64


def closest(word: object, valid: Iterable[object]) -> str | None:
    """The entry of *valid* closest to *word*, or None when nothing is close.

    Parameters
    ----------
    word
        What the user wrote; not necessarily a string (YAML gives numbers, lists...).
    valid
        The accepted names; non-strings are compared by their ``str``.

    Returns
    -------
    str or None
    """
    text = str(word)
    if len(text) > MAX_WORD:  # no name is that long; difflib's cost grows with the text
        return None
    # Sorted so a tie between two equally close names always gives the same hint.
    names = sorted({str(name) for name in valid})
    close = difflib.get_close_matches(text, names, n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: object, valid: Iterable[object]) -> str:
    """``" (did you mean 'x'?)"`` for the closest entry of *valid*, or ``""``.

    Examples
    --------
    >>> did_you_mean("thread", ["threads", "processes"])
    " (did you mean 'threads'?)"
    >>> did_you_mean("zzz", ["threads"])
    ''
    """
    match = closest(word, valid)
    return f" (did you mean {match!r}?)" if match else ""
