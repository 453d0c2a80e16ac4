"""The guard of the local web interface: who may ask, and what every answer carries.

Other pages in the same browser can reach 127.0.0.1, and a rebound DNS name can point there:
a foreign Host is refused, the launch secret is needed (once, as a link; then a cookie), and
every POST carries the CSRF token. Every answer, errors included, has the security headers,
and no page refers to any other host.
"""

from __future__ import annotations

import re

import pytest

from staff.web.guard import CSP, cookie_name, session_value
from tests.support.staff_web import ORIGIN, PORT, SECRET, client_for, csrf, filled_store, make_app

HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    store, cases = filled_store(tmp_path_factory.mktemp("store"))
    yield store, cases
    store.close()


@pytest.fixture
def app(filled):
    return make_app(filled[0])


@pytest.fixture
def cases(filled):
    return filled[1]


@pytest.fixture
def client(app):
    return client_for(app)


def assert_headers(response):
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (name, response.status_code)


def test_the_csp_forbids_every_script_and_every_other_host():
    assert "default-src 'none'" in CSP and "script-src" not in CSP
    assert "frame-ancestors 'none'" in CSP and "form-action 'self'" in CSP and "base-uri 'none'" in CSP


@pytest.mark.parametrize("host", ["evil.example", f"evil.example:{PORT}", "127.0.0.1", f"127.0.0.1:{PORT + 1}",
                                  f"localhost.evil.example:{PORT}", f"127.0.0.2:{PORT}", f"[::1]:{PORT}",
                                  f"LOCALHOST:{PORT}x", ""])
def test_a_foreign_host_is_refused_plainly_even_with_the_secret(app, host):
    client = app.test_client()
    response = client.get(f"/?token={SECRET}", headers={"Host": host}, base_url=ORIGIN)
    assert response.status_code == 403
    assert response.mimetype == "text/plain"
    assert "Set-Cookie" not in response.headers
    assert_headers(response)
    # With a valid cookie as well: still refused.
    client.set_cookie(cookie_name(PORT), session_value(SECRET), domain="127.0.0.1")
    response = client.get("/", headers={"Host": host}, base_url=ORIGIN)
    assert response.status_code == 403 and response.mimetype == "text/plain"


@pytest.mark.parametrize("host", [f"127.0.0.1:{PORT}", f"localhost:{PORT}"])
def test_the_loopback_names_with_the_port_are_answered(app, host):
    response = app.test_client().get(f"/?token={SECRET}", headers={"Host": host}, base_url=ORIGIN)
    assert response.status_code == 303


@pytest.mark.parametrize("path", ["/", "/en/", "/phone", "/no-such-page", "/case/SL-2345-6789"])
def test_without_the_secret_every_page_is_a_403_page_that_says_which_link_to_open(app, path):
    response = app.test_client().get(ORIGIN + path)
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert "safeline-staff serve" in text and "?token=" in text
    assert 'class="case-list"' not in text
    assert_headers(response)


def test_a_wrong_token_or_cookie_is_refused(app):
    client = app.test_client()
    assert client.get(f"{ORIGIN}/?token={SECRET[:-1]}y").status_code == 403
    assert client.get(f"{ORIGIN}/?token=").status_code == 403
    client.set_cookie(cookie_name(PORT), session_value(SECRET)[:-1] + "0", domain="127.0.0.1")
    assert client.get(f"{ORIGIN}/").status_code == 403
    # The secret itself is not the cookie's value: a cookie holding it is refused.
    client.set_cookie(cookie_name(PORT), SECRET, domain="127.0.0.1")
    assert client.get(f"{ORIGIN}/").status_code == 403


def test_the_token_becomes_a_strict_cookie_and_a_redirect_without_it(app):
    client = app.test_client()
    # Every other parameter stays, repeated ones too, whatever their names sort before or after.
    response = client.get(f"{ORIGIN}/en/?status=new&token={SECRET}&q=x&q=y&view=all")
    assert response.status_code == 303
    assert response.headers["Location"] == "/en/?status=new&q=x&q=y&view=all"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{cookie_name(PORT)}={session_value(SECRET)};")
    attributes = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite", "path"} <= set(attributes)
    assert attributes["samesite"].strip() == "SameSite=Strict" and attributes["path"].strip() == "Path=/"
    assert "expires" not in attributes and "max-age" not in attributes  # gone when the browser closes
    assert SECRET not in cookie
    assert_headers(response)
    assert client.get(f"{ORIGIN}/en/?status=new").status_code == 200


def test_the_cookie_is_named_for_the_port(filled):
    from staff.web import create_app

    other = create_app(filled[0], secret=SECRET, port=PORT + 1).test_client()
    response = other.get(f"http://127.0.0.1:{PORT + 1}/?token={SECRET}")
    assert response.headers["Set-Cookie"].startswith(f"{cookie_name(PORT + 1)}=")
    assert cookie_name(PORT) != cookie_name(PORT + 1)


def post_forms(cases):
    return [
        (f"/case/{cases.plain}/note", {"note": "電話した"}),
        (f"/case/{cases.plain}/status", {"status": "closed"}),
        (f"/case/{cases.plain}/delete", {}),
        (f"/case/{cases.plain}/delete", {"mails": "look"}),
        (f"/case/{cases.plain}/mails", {"step": "delete"}),
        ("/phone", {"role": "self", "language": "ja", "description": "相談"}),
        ("/en/phone", {"role": "self", "language": "ja", "description": "相談"}),
    ]


@pytest.mark.parametrize("token", [None, "", "0" * 64, "wrong"])
def test_a_post_without_the_right_csrf_token_is_refused_and_changes_nothing(client, filled, token):
    store, cases = filled
    before = (store.count(), store.case(cases.plain).to_json())
    for path, form in post_forms(cases):
        data = dict(form) if token is None else {**form, "csrf": token}
        response = client.post(ORIGIN + path, data=data)
        assert response.status_code == 403, path
        text = response.get_data(as_text=True)
        assert "reload the page" in text or "読み込みなおし" in text
        assert_headers(response)
    assert (store.count(), store.case(cases.plain).to_json()) == before


def test_a_post_with_the_token_only_in_the_query_is_refused(client, cases):
    response = client.post(f"{ORIGIN}/case/{cases.plain}/note?csrf={csrf()}", data={"note": "x"})
    assert response.status_code == 403


def test_a_post_with_the_right_token_is_taken(client, cases):
    response = client.post(f"{ORIGIN}/case/{cases.english}/note", data={"note": "called back", "csrf": csrf()})
    assert response.status_code == 303


def test_a_post_without_the_cookie_is_refused_even_with_the_csrf_token(app, cases):
    response = app.test_client().post(f"{ORIGIN}/case/{cases.plain}/note", data={"note": "x", "csrf": csrf()})
    assert response.status_code == 403


def every_answer(client, cases):
    """(what, response) for a page of each kind, an error of each status, a POST and the static files."""
    yield "list", client.get(ORIGIN + "/")
    yield "case", client.get(f"{ORIGIN}/case/{cases.hostile}")
    yield "reply", client.get(f"{ORIGIN}/case/{cases.plain}/reply")
    yield "phone", client.get(f"{ORIGIN}/en/phone")
    yield "delete", client.get(f"{ORIGIN}/case/{cases.plain}/delete")
    yield "404", client.get(ORIGIN + "/nothing/here")
    yield "404 case", client.get(f"{ORIGIN}/case/SL-2345-6789")
    yield "400", client.get(ORIGIN + "/?status=nonsense")
    yield "405", client.put(ORIGIN + "/", data={"csrf": csrf()})
    yield "413", client.post(ORIGIN + "/phone", data={"csrf": csrf(), "description": "x" * 300_000})
    yield "422", client.post(ORIGIN + "/phone", data={"csrf": csrf()})
    yield "303", client.post(f"{ORIGIN}/case/{cases.english}/status", data={"csrf": csrf(), "status": "waiting"})
    yield "css", client.get(ORIGIN + "/static/staff.css")
    yield "icon", client.get(ORIGIN + "/static/icon.svg")


def test_every_answer_has_the_security_headers(client, cases):
    seen = set()
    for what, response in every_answer(client, cases):
        assert_headers(response)
        seen.add(response.status_code)
    assert {200, 303, 400, 404, 405, 413, 422} <= seen


def test_an_unexpected_error_is_a_500_page_with_the_headers_and_nothing_of_the_error(filled, caplog, capsys):
    class Broken:
        def count(self, **_):
            raise RuntimeError("SECRET REPORT TEXT")

    app = make_app(Broken())
    client = client_for(app)
    response = client.get(ORIGIN + "/")
    assert response.status_code == 500
    assert "SECRET REPORT TEXT" not in response.get_data(as_text=True)
    assert_headers(response)
    logged = caplog.text + "".join(capsys.readouterr())
    assert "RuntimeError at test_web_guard.py:" in logged and "SECRET REPORT TEXT" not in logged


# Anything that would make the browser ask another host: a URL with a scheme or // in an
# attribute that loads or links, a CSS url(), an @import.
FOREIGN = re.compile(r"""(?:src|href|action|srcset|poster|data)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//)""", re.I)


def test_no_page_refers_to_another_host(client, cases):
    for what, response in every_answer(client, cases):
        text = response.get_data(as_text=True)
        found = [match.group(0) for match in FOREIGN.finditer(text)]
        # The reply page's drafts open the staff member's own mail client, and nothing else.
        allowed = ("mailto:",) if what == "reply" else ()
        found = [item for item in found if not item.lower().endswith(allowed)]
        assert found == [], what
        assert "<script" not in text.lower(), what
        assert " style=" not in text.lower(), what  # the CSP allows no inline style
    css = client.get(ORIGIN + "/static/staff.css").get_data(as_text=True)
    assert "url(" not in css and "@import" not in css


def test_the_redirect_after_the_token_never_leaves_the_origin(app):
    response = app.test_client().get(f"{ORIGIN}/?token={SECRET}", environ_overrides={"PATH_INFO": "//evil.example/x"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/evil.example/x"


@pytest.mark.parametrize(("site", "status"), [("cross-site", 403), ("same-site", 403), ("same-origin", 303),
                                               ("none", 303)])
def test_a_post_a_browser_says_came_from_another_site_is_refused(client, cases, site, status):
    response = client.post(f"{ORIGIN}/case/{cases.english}/note", data={"note": "x", "csrf": csrf()},
                           headers={"Sec-Fetch-Site": site})
    assert response.status_code == status


def test_the_port_the_server_was_given_decides_not_the_one_a_request_names(app):
    # The app knows its port from serve (STAFF_PORT); SERVER_PORT is only what the WSGI server
    # says, and is not what the Host header is checked against.
    client = app.test_client()
    response = client.get(f"/?token={SECRET}", headers={"Host": f"127.0.0.1:{PORT}"},
                          base_url=f"http://127.0.0.1:{PORT + 1}")
    assert response.status_code == 303


def test_a_launch_from_another_page_sets_the_cookie_and_goes_on_by_itself(app):
    # serve's launcher is a file:// page: the browser says the navigation is cross-site, and
    # would send no Strict cookie on a redirect of it. A page of ours goes on instead.
    client = app.test_client()
    response = client.get(f"{ORIGIN}/en/?token={SECRET}&q=x", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert '<meta http-equiv="refresh" content="0;url=/en/?q=x">' in response.get_data(as_text=True)
    assert response.headers["Set-Cookie"].startswith(f"{cookie_name(PORT)}={session_value(SECRET)};")
    assert SECRET not in response.get_data(as_text=True)


def test_every_form_carries_the_token_a_post_needs(client, cases):
    # What the page itself puts in its forms is what a POST is checked against: sent back as
    # the page gave it, a note goes in.
    import re

    page = client.get(f"{ORIGIN}/case/{cases.english}").get_data(as_text=True)
    hidden = re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page)
    tokens = [(name, value) for name, value in hidden if name == "csrf"]
    assert len(tokens) == page.count("<form method=\"post\"") and set(tokens) == {("csrf", csrf())}
    name, value = tokens[0]
    response = client.post(f"{ORIGIN}/case/{cases.english}/note", data={"note": "from the page", name: value})
    assert response.status_code == 303
    for path in ("/phone", f"/case/{cases.english}/delete"):
        assert f'name="csrf" value="{csrf()}"' in client.get(f"{ORIGIN}{path}").get_data(as_text=True)
