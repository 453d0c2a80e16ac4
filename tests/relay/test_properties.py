"""Property tests (hypothesis): whatever arrives, the relay answers with a page, never a 500.

- ``relay.report.validate`` with arbitrary fields never raises; it returns either a report
  within the documented limits or errors about the form's own fields.
- The whole request through the real app (random bytes, invalid UTF-8, bodies up to and over
  64 KB, thousands of fields, duplicates, wrong content types, odd methods and paths) never
  gets a 5xx and never leaves a traceback or an "unexpected" error in the log.

Each test runs a bounded number of examples (no example database is written).
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections import Counter
from urllib.parse import quote, quote_from_bytes, urlencode

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from relay import MAX_BODY
from relay.report import (
    ADDITION_FIELDS, FIELDS, MAX_DESCRIPTION, MAX_URL_LENGTH, MAX_URLS, REFERENCE, Report, normal_code,
    normal_reference, validate, validate_addition,
)
from relay.services import services
from tests.support.reports import FORM_PATHS, MORE_PATHS, VALID

BOUNDED = settings(max_examples=200, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                          HealthCheck.function_scoped_fixture])

# Characters that have broken form handlers elsewhere: NUL and other controls, line and
# paragraph separators, bidirectional overrides, joiners, BOM, non-characters, the last code point.
ODD = ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\t", "\n", "\r", "\r\n", "\u2028", "\u2029", "\u200b", "\u200d",
       "\u200e", "\u200f", "\u202a", "\u202e", "\u2066", "\ufeff", "\ufffd", "\ufffe", "\uffff", "\U0001f600",
       "\U000e0001", "\U0010fffd", "\U0010ffff", "%", "%00", "%ff", "&", "=", "+", " ", "\u3000",
       "ｈｔｔｐｓ：／／"]
odd_text = st.lists(st.one_of(st.sampled_from(ODD), st.text(max_size=8)), max_size=12).map("".join)
long_text = st.builds(lambda unit, times: unit * times, st.text(min_size=1, max_size=4), st.integers(1, 3000))
any_text = st.one_of(st.text(max_size=200), odd_text, long_text)

good_hosts = st.one_of(
    st.sampled_from(["example.com", "images.example.com", "例え.jp", "xn--r8jz45g.jp", "EXAMPLE.NET", "8.8.8.8",
                     "[2001:4860:4860::8888]", "example.com:8080", "example.com:443", "user:pw@example.com",
                     "xn--zz.jp", "www.google.com"]),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9-]{1,12}){0,2}\.[a-z]{2,6}", fullmatch=True),
)
hosts = st.one_of(
    good_hosts,
    st.sampled_from(["192.0.2.1", "127.0.0.1", "10.0.0.1", "[::1]", "localhost", "a..b", "-x-.com", "a" * 64 + ".com",
                     "example.com:0", "example.com:99999", "[::1", "%zz.com", "example.123", "1.2.3.4.5"]),
    st.text(max_size=20),
)
paths = st.one_of(st.just(""), st.just("/"), st.text(max_size=40).map(lambda t: "/" + t),
                  odd_text.map(lambda t: "/" + t),
                  st.just("/search?q=x"), st.just("/p?a=1&b=%E5%86%99#frag"),
                  st.builds(lambda n: "/" + "p" * n, st.integers(1, 2100)))
good_url = st.builds(lambda scheme, host, path: scheme + host + re.sub(r"\s", "", path),
                     st.sampled_from(["https://", "http://", "", "HTTPS://"]), good_hosts, paths)
any_url = st.builds(
    lambda scheme, host, path, pad: pad + scheme + host + path + pad,
    st.sampled_from(["https://", "http://", "", "ftp://", "file:///", "javascript:", "//", "<https://", "C:\\"]),
    hosts, paths, st.sampled_from(["", " ", "\t", "「", "\u3000", "\x00"]),
)
separators = st.sampled_from(["\n", "\r\n", "\r", "\n\n", "\n \t\n"])
good_urls = st.tuples(st.lists(good_url, min_size=1, max_size=8), separators).map(lambda t: t[1].join(t[0]))
url_field = st.one_of(
    good_urls,
    st.tuples(st.lists(st.one_of(good_url, any_url), max_size=35), separators | st.just(" "))
    .map(lambda t: t[1].join(t[0])),
    any_text,
)
good_email = st.builds(lambda local, domain: f"{local}@{domain}",
                       st.from_regex(r"[a-zA-Z0-9_+-]{1,30}", fullmatch=True) | st.sampled_from(["花子", "hanako.y"]),
                       st.from_regex(r"[a-z0-9]{1,20}\.(jp|com|co\.jp|example)", fullmatch=True) | st.just("例え.jp"))
email_field = st.one_of(
    good_email,
    st.sampled_from(["hanako@example.jp", "花子@例え.jp", " Hanako@Example.JP ", "a@b", "@example.jp",
                     "x" * 250 + "@a.jp", "hanako@example.jp\r\nBcc: x@y.z", "hanako@[127.0.0.1]", '"a b"@example.jp',
                     "hanako@example.jp\x00"]),
    st.builds(lambda local, domain: f"{local}@{domain}", st.from_regex(r"[a-zA-Z0-9._+-]{1,30}", fullmatch=True),
              good_hosts),
    st.builds(lambda local, domain: f"{local}@{domain}", st.text(min_size=1, max_size=30), hosts),
    any_text,
)
descriptions = st.one_of(st.text(min_size=1, max_size=300), odd_text, long_text,
                         st.text(min_size=3990, max_size=4010, alphabet="写 x\n\x00\u0301"))
good_fields = st.fixed_dictionaries({
    "role": st.sampled_from(["self", "guardian"]),
    "email": good_email,
    "urls": good_urls,
    "description": descriptions,
    "consent": st.just("yes"),
})
any_field = {
    "role": st.one_of(st.sampled_from(["self", "guardian", "other", "", "SELF", " self"]), any_text),
    "email": email_field,
    "urls": url_field,
    "description": st.one_of(descriptions, any_text),
    "consent": st.one_of(st.sampled_from(["yes", "", "no", "YES", "yes "]), any_text),
}
# A good form; one with one field changed; one with any of the fields and others besides.
one_changed = st.one_of(*(st.builds(lambda form, value, name=name: {**form, name: value}, good_fields, strategy)
                          for name, strategy in any_field.items()))
anything = st.builds(lambda extra, known: {**extra, **known},
                     st.dictionaries(st.text(max_size=10), any_text, max_size=5),
                     st.fixed_dictionaries({}, optional=any_field))
forms = st.one_of(good_fields, one_changed, anything)
form_fields = st.one_of(good_fields, one_changed, st.fixed_dictionaries({}, optional=any_field))


def _no_controls(text: str, allowed: str = "") -> bool:
    return all(ch in allowed or unicodedata.category(ch)[0] != "C" or ch == "\u200d" for ch in text)


# -- the validator ---------------------------------------------------------------------------

@BOUNDED
@given(form=forms, lang=st.sampled_from(["ja", "en"]))
@example(form=VALID, lang="ja")
@example(form={**VALID, "urls": "\n".join(f"https://example.com/{n}" for n in range(30))}, lang="en")
@example(form={**VALID, "description": "x" * MAX_DESCRIPTION}, lang="ja")
@example(form={**VALID, "urls": "https://example.com/" + "a" * (MAX_URL_LENGTH - 20)}, lang="ja")
@example(form={**VALID, "urls": "https://xn--zz.jp/"}, lang="ja")
@example(form={}, lang="ja")
# Found by this test.  NFC once came before control characters were dropped, leaving these
# letters and accents apart; IDNA maps "¨" to a space and an accent, "⑴" to "(1)".
@example(form={**VALID, "description": "cafe\x00\u0301 e\u200b\u0301"}, lang="ja")
@example(form={**VALID, "urls": "https://0.\u00a8/"}, lang="ja")
@example(form={**VALID, "urls": "https://\u2474.com/"}, lang="ja")
@example(form={**VALID, "urls": "https://example.com/'?"}, lang="ja")
def test_the_validator_returns_a_report_within_limits_or_errors_on_known_fields(form, lang):
    report, errors = validate(form, lang)

    assert (report is None) != (not errors)
    if errors:
        assert set(errors) <= set(FIELDS), errors
        for problems in errors.values():
            assert problems
            for problem in problems:
                rendered = problem.render(lambda message: message)  # every placeholder has its value
                assert "{" not in rendered.replace("{}", "")
        return

    assert isinstance(report, Report)
    assert report.role in ("self", "guardian") and report.role == form["role"]
    assert report.lang == lang
    assert form.get("consent") == "yes"
    assert 1 <= len(report.urls) <= MAX_URLS
    assert len(set(report.urls)) == len(report.urls)
    for url in report.urls:
        assert len(url) <= MAX_URL_LENGTH
        assert re.match(r"^https?://([a-z0-9_-]+(\.[a-z0-9_-]+)*\.?|[0-9.]+|\[[0-9a-f:.]+\])(:\d+)?/", url), url
        assert not re.search(r"\s", url) and "#" not in url and url.isascii(), url
    assert 1 <= len(report.description) <= MAX_DESCRIPTION
    assert report.description == report.description.strip()
    assert _no_controls(report.description, "\n\t"), ascii(report.description)
    assert "\r" not in report.description
    assert unicodedata.is_normalized("NFC", report.description)
    assert report.email and "@" in report.email and len(report.email) <= 254
    assert _no_controls(report.email) and not re.search(r"\s", report.email)
    json.dumps(report.fields())  # what the JSON part will hold

    # What staff get is stable: the normalised report, sent again, is accepted as it is (only a
    # URL may change, e.g. when dropping an empty "?" left a quote mark at its end).
    again, problems = validate({**report.fields(), "urls": "\n".join(report.urls), "consent": "yes"}, lang)
    assert not problems
    assert (again.role, again.email, again.description) == (report.role, report.email, report.description)


# -- the whole request -----------------------------------------------------------------------

FORM = "application/x-www-form-urlencoded"
CONTENT_TYPES = [FORM, f"{FORM}; charset=utf-8", f"{FORM}; charset=latin-1", f"{FORM}; charset=utf-16",
                 f"{FORM}; charset=bogus", "APPLICATION/X-WWW-FORM-URLENCODED", f"{FORM};;;", "multipart/form-data",
                 "multipart/form-data; boundary=xyz", "application/json", "text/plain", "text/html; charset=utf-8",
                 "application/octet-stream", "", "*/*", "x/y; a=\"b", None]
METHODS = ["POST"] * 6 + ["GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO"]
PATHS = [*FORM_PATHS.values()] * 4 + [*MORE_PATHS.values()] * 2 + ["/report/more/sent/?r=x", "/report/other/",
                                                                    "/report/sent/", "/en/report/sent/?r=garbage", "/report/sent/?r=" + "A" * 3000,
                                       "/report/?role=self", "/report", "/no-such-page/", "/report/%ff/"]
HEADERS = st.fixed_dictionaries({}, optional={
    "Origin": st.sampled_from(["https://safeline.example", "null", "https://evil.example", "", "\u00e9"]),
    "Sec-Fetch-Site": st.sampled_from(["same-origin", "cross-site", "none", "", "bogus"]),
    "X-Forwarded-For": st.sampled_from(["203.0.113.7", "garbage", ""]),
    "Accept-Language": st.sampled_from(["ja", "en", "*", ""]),
})


def pairs_body(pairs: list[tuple[str, str]]) -> bytes:
    return urlencode(pairs).encode("ascii")


bodies = st.one_of(
    st.binary(max_size=3000),  # random bytes
    st.lists(st.binary(max_size=40), max_size=20).map(  # invalid UTF-8, %-encoded or raw
        lambda chunks: b"&".join(b"%s=%s" % (quote_from_bytes(c[:8]).encode(), c) for c in chunks)),
    st.builds(lambda size, field: b"%s=%s" % (field.encode(), b"x" * size),  # huge fields, around the limit
              st.sampled_from([60_000, 65_000, 65_536, 65_537, 70_000, 200_000]),
              st.sampled_from([*FIELDS, "token", "website", "other"])),
    st.integers(500, 5000).map(lambda n: b"&".join(b"f%d=%d" % (i, i) for i in range(n))),  # thousands of fields
    st.lists(st.tuples(st.sampled_from([*FIELDS, "token", "website", "x"]), any_text), max_size=30).map(pairs_body),
)


def test_no_request_gets_a_5xx_or_logs_a_traceback(app, caplog):
    relay_app = app(RELAY_RATELIMIT="100000 per hour", RELAY_RATELIMIT_POSTS="100000 per hour")
    relay_app.config["TESTING"] = False  # as in production: nothing propagates to the caller
    client = relay_app.test_client()
    tokens = services(relay_app).tokens
    statuses: Counter[int] = Counter()

    def valid_form(fields: dict, duplicates: list, raw: list, use_token: str) -> bytes:
        """A form as a browser sends it (maybe with a token that works), then duplicates and raw bytes."""
        data = {**VALID, **fields}
        token = {"fresh": tokens.issue(), "none": None, "garbage": "x.y.z"}[use_token]
        pairs = [(name, value) for name, value in data.items()]
        if token is not None:
            pairs.append(("token", token))
        body = pairs_body(pairs + duplicates)
        for name, value in raw:  # e.g. invalid UTF-8, %-encoded, in a field the form has
            body += b"&%s=%s" % (name.encode(), quote_from_bytes(value).encode())
        return body

    some_field = st.sampled_from([*FIELDS, "token", "website"])
    form_bodies = st.builds(
        valid_form,
        form_fields,
        st.lists(st.tuples(some_field, any_text), max_size=4),
        st.lists(st.tuples(some_field, st.binary(max_size=30)), max_size=2),
        st.sampled_from(["fresh", "fresh", "fresh", "none", "garbage"]),
    )

    def check(method, path, body, content_type, headers):
        caplog.clear()
        with caplog.at_level(logging.INFO):
            response = client.open(path, method=method, data=body, content_type=content_type, headers=headers)
            page = response.get_data(as_text=True)  # the whole page is rendered
        statuses[response.status_code] += 1
        assert 200 <= response.status_code < 500, (response.status_code, method, path, content_type, body[:200])
        assert "Traceback" not in caplog.text and "Traceback" not in page
        for record in caplog.records:
            assert record.exc_info is None, record.getMessage()
            assert not record.getMessage().startswith("unexpected"), record.getMessage()

    # Anything at all: any method, path, type and headers.
    # (Each stage below is also given as an example: the random ones need not reach all of them.)
    anything = given(method=st.sampled_from(METHODS), path=st.sampled_from(PATHS), body=st.one_of(bodies, form_bodies),
                     content_type=st.sampled_from(CONTENT_TYPES), headers=HEADERS)
    cross_site = example(method="POST", path=MORE_PATHS["en"], body=b"reference=x", content_type=FORM,
                         headers={"Origin": "https://evil.example"})
    BOUNDED(cross_site(anything(check)))()
    # What gets past the first checks: a POST of the form's type to the form, from our own page.
    BOUNDED(given(method=st.just("POST"), path=st.sampled_from(list(FORM_PATHS.values())),
                  body=st.one_of(bodies, form_bodies, form_bodies, form_bodies),
                  content_type=st.sampled_from([FORM, f"{FORM}; charset=utf-8", f"{FORM}; charset=latin-1"]),
                  headers=st.sampled_from([{}, {"Sec-Fetch-Site": "same-origin"},
                                           {"Origin": "https://safeline.example"}]))(check))()

    # The examples reached every stage: accepted, refused by the validator, by the token, the
    # size limit, the method, the type.
    assert {303, 422, 400, 403, 405, 413}.issubset(statuses), statuses


def test_any_text_in_any_field_of_a_valid_form_is_accepted_or_refused_kindly(app):
    relay_app = app(RELAY_RATELIMIT="100000 per hour", RELAY_RATELIMIT_POSTS="100000 per hour")
    relay_app.config["TESTING"] = False
    client = relay_app.test_client()
    tokens = services(relay_app).tokens
    expected = {"token": (303, 400), "website": (303, 422)}

    @BOUNDED
    @given(value=any_text, field=st.sampled_from([*FIELDS, "token", "website"]), lang=st.sampled_from(["ja", "en"]))
    def check(value, field, lang):
        data = {**VALID, "token": tokens.issue(), "website": "", field: value}
        body = "&".join(f"{quote(name)}={quote(text)}" for name, text in data.items()).encode()
        response = client.post(FORM_PATHS[lang], data=body, content_type=FORM)
        if len(body) > MAX_BODY:
            assert response.status_code == 413
        else:
            assert response.status_code in expected.get(field, (303, 422)), (field, ascii(value)[:200])

    check()


# What clean_text keeps and drops, stated character by character rather than by the rule
# its code applies: a changed rule changes what happens to one of these.
KEPT = ("a", "Z", "7", " ", "写", "ー", "\u3000",  # ideographic space
        "\u00a0",  # no-break space
        "\n", "\t",
        "\u200d",  # zero-width joiner: it holds emoji sequences together
        "\u2028",  # line separator (a separator, not a control)
        "e", "\u0301",  # an accent, which composes with the letter before it
        "\U0001f469")
DROPPED = ("\x00", "\x07", "\x1b", "\x7f",
           "\x85",  # next line, a C1 control
           "\u200b",  # zero-width space
           "\u200e", "\u202e",  # direction marks and overrides
           "\u2066",  # isolate
           "\ufeff",  # byte order mark
           "\U000e0041",  # tag character
           "\ue000",  # private use
           "\u0378",  # unassigned
           "\ud800")  # a lone surrogate
KEPT_TEXT = st.lists(st.sampled_from(KEPT), max_size=20)
DROPPED_TEXT = st.lists(st.sampled_from(DROPPED), max_size=4)


@BOUNDED
@given(pieces=st.lists(st.tuples(KEPT_TEXT, DROPPED_TEXT), max_size=8), ends=st.sampled_from(["\n", "\r\n"]))
@example(pieces=[(["写", " ", "\u3000"], ["\x00"]), (["e"], ["\u200b"]), (["\u0301", "\u200d", "\u2028"], [])], ends="\r\n")
def test_clean_text_drops_exactly_the_control_and_format_characters(pieces, ends):
    from relay.report import clean_text

    kept = ["".join(kept) for kept, _ in pieces]
    text = ends.join("".join(kept) + "".join(dropped) for kept, dropped in pieces)
    assert clean_text(text) == unicodedata.normalize("NFC", "\n".join(kept)).strip()


def test_clean_text_keeps_each_kept_character_and_drops_each_dropped_one():
    from relay.report import clean_text

    for ch in KEPT:
        assert clean_text("a" + ch + "b") == unicodedata.normalize("NFC", "a" + ch + "b"), ascii(ch)
    for ch in DROPPED:
        assert clean_text("a" + ch + "b") == "ab", ascii(ch)
    assert clean_text("a\rb\r\nc\n\rd") == "a\nb\nc\n\nd"  # every line end becomes one newline
    assert clean_text(" \u3000\n\ta\u00a0\n ") == "a"


# -- the form that adds to a report ----------------------------------------------------------

references = st.one_of(
    st.sampled_from(["SL-7K3F-Q9XD", "sl 7k3f q9xd", "ＳＬ－７Ｋ３Ｆ－Ｑ９ＸＤ", "SL-7K3F", "SL-IIII-OOOO", "", "SL-7K3F-Q9XD\x00"]),
    st.from_regex(r"(SL|sl)?[-\s]?[2-9A-Z]{4}[-\sー]?[2-9A-Z]{4}", fullmatch=True),
    any_text,
)
codes = st.one_of(st.from_regex(r"[0-9０-９\s\-]{0,14}", fullmatch=True),
                  st.sampled_from(["١٢٣٤٥٦٧٨", "12345678", "1234 5678", "１２３４５６７８", "+12345678"]), any_text)
addition_fields = st.fixed_dictionaries({}, optional={
    "reference": references, "code": codes, "urls": url_field, "description": st.one_of(descriptions, any_text)})
good_additions = st.fixed_dictionaries({
    "reference": st.from_regex(r"SL-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}", fullmatch=True),
    "code": st.just(""), "urls": good_urls, "description": st.one_of(st.just(""), descriptions)})


@BOUNDED
@given(form=addition_fields, lang=st.sampled_from(["ja", "en"]))
def test_the_addition_validator_returns_an_addition_within_limits_or_errors_on_its_fields(form, lang):
    addition, errors = validate_addition(form, lang)
    assert (addition is None) != (not errors)
    if errors:
        assert set(errors) <= set(ADDITION_FIELDS), errors
        return
    assert re.fullmatch(r"SL-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}", addition.reference)
    assert re.fullmatch(r"\d{8}", normal_code(form["code"]))
    assert 1 <= len(addition.urls) <= MAX_URLS and len(addition.description) <= MAX_DESCRIPTION
    json.dumps(addition.fields())


def test_any_addition_is_accepted_or_refused_kindly(app, caplog):
    relay_app = app(RELAY_RATELIMIT="100000 per hour", RELAY_RATELIMIT_POSTS="100000 per hour")
    relay_app.config["TESTING"] = False
    client = relay_app.test_client()
    tokens, followups = services(relay_app).tokens, services(relay_app).followups
    statuses: Counter[int] = Counter()

    @BOUNDED
    @given(form=st.one_of(good_additions, addition_fields), right=st.booleans(), lang=st.sampled_from(["ja", "en"]))
    def check(form, right, lang):
        data = {**form, "token": tokens.issue()}
        reference = normal_reference(form.get("reference", ""))
        if right and REFERENCE.fullmatch(reference):  # the pair that belongs together, as typed
            data["code"] = followups.code(reference)
        body = "&".join(f"{quote(name)}={quote(text)}" for name, text in data.items()).encode()
        caplog.clear()
        with caplog.at_level(logging.INFO):
            response = client.post(MORE_PATHS[lang], data=body, content_type=FORM)
        statuses[response.status_code] += 1
        assert response.status_code in ((413,) if len(body) > MAX_BODY else (303, 422)), ascii(data)[:300]
        assert not any(record.exc_info or record.getMessage().startswith("unexpected") for record in caplog.records)

    check()
    assert {303, 422} <= set(statuses), statuses
