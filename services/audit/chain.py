"""The audit trail's hash chain, as pure functions.

Each entry keeps the event's canonical bytes and a hash: SHA-256 of the previous entry's hash
followed by those bytes. Changing any byte of an entry, dropping one or reordering two
changes every hash from there on, so a head hash kept outside the system (printed, emailed)
proves the whole history up to it.
"""

from __future__ import annotations

import hashlib

import orjson

from pmp.envelope import RecordedEvent

GENESIS = "0" * 64  # the "previous hash" of the first entry


def canonical(source: str, event: RecordedEvent) -> bytes:
    """The event as the chain keeps it: the service it came from and its whole envelope, keys
    sorted, times in UTC, no spaces; the same event always gives the same bytes."""
    return orjson.dumps({"source": source, **event.to_json()}, option=orjson.OPT_SORT_KEYS)


def link(previous_hash: str, body: bytes) -> str:
    """The hash of an entry with ``body`` that follows the entry hashed ``previous_hash``."""
    return hashlib.sha256(bytes.fromhex(previous_hash) + body).hexdigest()
