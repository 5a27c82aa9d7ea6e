"""Where the browser may be sent back to after signing in (or acting on a report).

A ``next`` value comes from the address bar, so anybody can write one into a link. Browsers
forgive a lot in a Location header: they drop tabs and newlines, read a backslash as a
slash and take ``//host`` as another site. So only a plain path on this site is honoured,
judged in every form a browser or a proxy may read it (as sent and fully percent-decoded);
anything else sends the user to the home page.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from werkzeug.urls import iri_to_uri

HOME = "/"


def site_path(target: str | None, default: str = HOME) -> str:
    """``target`` if it is a path on this site, else ``default``."""
    if not target or not _is_site_path(target):
        return default
    decoded = target
    for _ in range(3):  # %252F is %2F is /: look through layers of encoding
        decoded, previous = unquote(decoded), decoded
        if decoded == previous:
            break
        if not _is_site_path(decoded):
            return default
    if decoded != unquote(decoded):  # more layers than any real link has
        return default
    return iri_to_uri(target)  # non-ASCII percent-encoded: a header carries only ASCII


def _is_site_path(text: str) -> bool:
    if not text.startswith("/") or text.startswith("//"):
        return False
    if "\\" in text or not text.isprintable():  # tabs, newlines, NUL, DEL, bidi controls
        return False
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc
