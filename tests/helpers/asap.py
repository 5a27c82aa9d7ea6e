"""ASAP files for tests, built segment by segment with valid identifiers and counts."""

from __future__ import annotations

from datetime import UTC, datetime

#: When the tests' files are received: after every date they hold (and within a day of none).
RECEIVED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def npi(base9: str) -> str:
    total = 24
    for i, ch in enumerate(reversed(base9)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return base9 + str((10 - total % 10) % 10)


def dea(letters: str, base6: str) -> str:
    d = [int(c) for c in base6]
    return letters + base6 + str((d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10)


PHARMACY_NPI = npi("123456789")
PRESCRIBER_NPI = npi("987654321")
PRESCRIBER_DEA = dea("AB", "123456")


def fields(sid: str, n: int, values: dict[int, str], over: dict[int, str] | None) -> list[str]:
    out = [sid] + [""] * n
    for k, v in {**values, **(over or {})}.items():
        while len(out) <= k:
            out.append("")
        out[k] = v
    return out


def pha(over=None, n=12):
    return fields(
        "PHA",
        n,
        {
            1: PHARMACY_NPI,
            2: "1234567",
            4: "MAIN ST PHARMACY",
            7: "SPRINGFIELD",
            8: "IL",
            9: "62701",
        },
        over,
    )


def pat(over=None):
    return fields(
        "PAT",
        23,
        {
            1: "US",
            2: "06",
            3: "D1234567",
            7: "DOE",
            8: "JANE",
            12: "1 ELM ST",
            14: "SPRINGFIELD",
            15: "IL",
            16: "62701",
            18: "19800215",
            19: "F",
            20: "01",
        },
        over,
    )


def dsp(over=None, n=21):
    return fields(
        "DSP",
        n,
        {
            1: "00",
            2: "RX1001",
            3: "20240102",
            4: "2",
            5: "20240103",
            6: "0",
            7: "01",
            8: "00409123401",
            9: "30",
            10: "30",
            11: "01",
            12: "01",
            16: "01",
        },
        over,
    )


def pre(over=None):
    return fields("PRE", 8, {1: PRESCRIBER_NPI, 2: PRESCRIBER_DEA, 5: "SMITH", 6: "JOHN"}, over)


def cdi(over=None):
    return fields("CDI", 5, {1: "1", 2: "01", 3: "00409123401", 4: "10", 5: "03"}, over)


def air(over=None):
    return fields("AIR", 11, {1: "IL", 2: "SN123", 4: "06", 5: "X99", 6: "01"}, over)


def record(n: int = 0, **over) -> list[list[str]]:
    """PAT, DSP, PRE for prescription RX<1000+n>."""
    return [
        pat(over.get("pat")),
        dsp({2: f"RX{1000 + n}", **over.get("dsp", {})}),
        pre(over.get("pre")),
    ]


def build(
    blocks=None,
    *,
    version="4.2",
    sep="*",
    term="~",
    eol="",
    th02="1001",
    tt01=None,
    tp_delta=0,
    tt_delta=0,
    th09_once=False,
    file_type="P",
) -> bytes:
    """A whole file: TH, IS, one PHA..TP block per (pha, segments) in ``blocks``, TT.

    Counts are computed (then shifted by tp_delta / tt_delta); ``eol`` is written after every
    terminator (e.g. "\\r\\n"); ``th09_once`` writes the TH09 character only once;
    ``file_type`` is TH07: P (production) or T (a test file).
    """
    if blocks is None:
        blocks = [(pha(), record(1) + record(2))]
    segs = [
        ["TH", version, th02, "01", "", "20240105", "1230", file_type, "", term],
        ["IS", "ISID01", "MAIN ST PHARMACY", ""],
    ]
    for ph, body in blocks:
        block = [ph, *body]
        segs += block + [["TP", str(len(block) + 1 + tp_delta)]]
    segs.append(["TT", th02 if tt01 is None else tt01, str(len(segs) + 1 + tt_delta)])
    parts = []
    for i, s in enumerate(segs):
        text = sep.join(s[:-1]) + sep + ("" if th09_once else term) if i == 0 else sep.join(s)
        parts.append(text + term + eol)
    return "".join(parts).encode("utf-8")
