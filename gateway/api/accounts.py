"""The JSON API for sessions, the signed-in user's own account, and password resets."""

from __future__ import annotations


class AccountApi:
    pass
