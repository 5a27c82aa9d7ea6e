"""The pager under long lists (users, registrations, patient matches) links where it says."""

from __future__ import annotations

from gateway.rendering import environment


def pager(page: int, pages: int) -> str:
    template = environment().from_string(
        '{% import "_forms.html" as f %}{{ f.pager(page, pages, link) }}'
    )
    return template.render(page=page, pages=pages, link=lambda n: f"/list?page={n}")


def test_a_middle_page_links_both_ways():
    html = pager(2, 3)
    assert '<a href="/list?page=1" rel="prev">Previous page</a>' in html
    assert '<a href="/list?page=3" rel="next">Next page</a>' in html
    assert "Page 2 of 3" in html


def test_the_ends_link_one_way_and_a_single_page_has_no_pager():
    assert "Previous" not in pager(1, 3) and "Next" not in pager(3, 3)
    assert pager(1, 1).strip() == ""
