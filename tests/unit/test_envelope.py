"""The event envelope's own rules."""

from __future__ import annotations

from datetime import datetime

import pytest

from pmp.envelope import Metadata, NewEvent, uuid7


def test_event_types_are_pascal_case_past_tense_names():
    with pytest.raises(ValueError, match="PascalCase"):
        NewEvent("password_changed", {}, Metadata(occurred_at=datetime.now().astimezone()))


def test_event_ids_are_time_ordered_uuid7s():
    ids = [uuid7() for _ in range(50)]
    assert all(i.version == 7 and i.variant == "specified in RFC 4122" for i in ids)
    millis = [i.int >> 80 for i in ids]
    assert millis == sorted(millis)
