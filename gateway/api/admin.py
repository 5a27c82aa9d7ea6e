"""The JSON API for administrators: accounts, their search and the actions on them."""

from __future__ import annotations


class AdminApi:
    pass
