"""Whether an image's or a container's user runs as root.

One answer for the Dockerfile reader (`USER`), image configs (`User`) and containers (`--user`).
"""

from __future__ import annotations

ROOT_USERS = frozenset({"", "root", "0", "0:0", "root:root", "root:0", "0:root"})
"""The usual spellings of root (an empty user runs as root). `is_root_user` also accepts root
with any group, and a group with no user."""

_ROOT_NAMES = ("", "root", "0")


def is_root_user(user: str) -> bool:
    """Return whether `user` (`user[:group]`, as `USER`, an image's `User` or `--user` give it) runs
    as root.

    Returns:
        True when the user part (before any `:`, surrounding blanks ignored) is empty, `root` or
        `0`, whatever the group: `""`, `root`, `0`, `0:0`, `root:wheel`, `:1000`; False otherwise
        (`app`, `1000:0`). Never raises.
    """
    u = user.strip()
    return u in ROOT_USERS or u.partition(":")[0] in _ROOT_NAMES
