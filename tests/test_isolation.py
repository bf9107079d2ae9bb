"""Cross-portal isolation, walked over every URL the portal serves.

New pages and endpoints are picked up automatically: each one must refuse a session from
another portal (also with a spoofed Host header) and anonymous visitors, unless it is on the
short list of pages meant for anonymous visitors.
"""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

# Pages an anonymous visitor may see on a portal host; they show no portal data beyond its name.
ANONYMOUS_PAGES = {"/auth/login/", "/i18n/setlang/", "/auth/password-reset/", "/auth/password-reset/sent/",
                   "/auth/password-reset/done/", "/auth/password-reset/1/1/", "/auth/join/",
                   # Signs in only with a valid signed token; without one it redirects to the login page.
                   "/auth/handover/1/",
                   # A client's quote (crm.quotes): only with a valid signed token of this portal; 404 otherwise.
                   "/q/1/", "/q/1/pdf/", "/q/1/beacon/", "/q/1/decide/"}
GUESSED_IDS = {"int": "1", "pk": "1", "uuid": "00000000-0000-0000-0000-000000000001", "slug": "alfa",
               "str": "1", "path": "1"}


def _walk(patterns, prefix: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route


def _concrete(route: str) -> str:
    """Fill converters with guessed IDs: an attacker does not need to know real ones."""
    def fill(match: re.Match) -> str:
        converter = match.group(1) or "str"
        return GUESSED_IDS.get(converter, "1")

    path = re.sub(r"<(?:(\w+):)?\w+>", fill, route)
    return "/" + path.lstrip("^").rstrip("$")


def portal_paths() -> list[str]:
    return sorted({_concrete(route) for route in _walk(get_resolver("kompas.urls_portal").url_patterns)})


def test_the_walk_finds_the_portal_pages():
    assert {"/", "/auth/login/", "/auth/logout/"} <= set(portal_paths())


@pytest.mark.parametrize("path", portal_paths())
def test_anonymous_visitors_see_no_portal_page_but_the_login(portal_a, path):
    if path in ANONYMOUS_PAGES:
        pytest.skip("meant for anonymous visitors")
    response = portal_a.client().get(path)
    assert response.status_code in (302, 401, 403, 404, 405), (path, response.status_code)
    if response.status_code == 302:
        assert "/auth/login/" in response["Location"]


@pytest.mark.parametrize("path", portal_paths())
def test_a_session_of_portal_a_opens_nothing_on_portal_b(portal_a, portal_b, path):
    client = portal_a.client(logged_in=True)
    for host in (portal_b.host, f"{portal_b.host}:443", portal_b.host.upper()):
        response = client.get(path, HTTP_HOST=host)
        body = response.content.decode(errors="replace")
        assert portal_a.owner.email not in body, (path, host)
        assert portal_a.tenant.name not in body, (path, host)
        if path not in ANONYMOUS_PAGES:
            assert response.status_code in (302, 401, 403, 404, 405), (path, host, response.status_code)
