"""Pages for signing in and out, the sign-in steps, password changes and resets, and the
signed-in user's own account."""

from __future__ import annotations


class AccountPages:
    pass
