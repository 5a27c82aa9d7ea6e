"""Administrators' pages: the user list with search, one user's details and the actions."""

from __future__ import annotations


class AdminPages:
    pass
