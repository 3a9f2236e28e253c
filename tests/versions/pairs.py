"""Random version pairs for checking the ports against the real package tools."""

from __future__ import annotations

import random


def near_pairs(seed: int, n: int, make: str, alphabet: str, *,
               hyphens: bool) -> list[tuple[str, str]]:
    """Return `n` pairs of version-like strings, half of them one character apart.

    Args:
        seed: the random seed (the pairs are the same on every run).
        n: how many pairs.
        make: the characters a version may start with.
        alphabet: the characters that may follow.
        hyphens: whether a `-revision` / `-release` and an `epoch:` may be added.
    """
    rng = random.Random(seed)

    def one() -> str:
        v = rng.choice(make) + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
        if hyphens and rng.random() < 0.7:
            plain = alphabet.replace("-", "")
            v += "-" + "".join(rng.choice(plain) for _ in range(rng.randint(1, 4)))
        if hyphens and rng.random() < 0.3:
            v = f"{rng.randint(0, 3)}:{v}"
        return v

    pairs = []
    for _ in range(n):
        a = one()
        if rng.random() < 0.5:
            s = list(a)
            i = rng.randrange(len(s))
            s[i] = s[i] if s[i] in "-:" else rng.choice(alphabet.replace("-", ""))
            pairs.append((a, "".join(s)))
        else:
            pairs.append((a, one()))
    return pairs
