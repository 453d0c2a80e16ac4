"""Who hosts a URL: DNS, then RDAP, answered by a real local HTTP server with recorded responses
(tests/support/staff_rdap.py, tests/staff/rdap/README.md). Never the internet: URL hosts are IP
literals and localhost; names are looked up at the registries directly (no DNS), or with a
resolver that stands in for DNS where a whole lookup of a name is tested."""

from __future__ import annotations

import json
import socket
import time
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from staff.cli import main, parser
from staff.home import Home
from staff.hosting import HostingError, host_of_url, lookup, resolve
from staff.problems import StaffError
from staff.rdap import CACHE_FOLDER, Client, RdapError, freshness, network_of, parse_bootstrap, registrar_of
from tests.support.staff_rdap import RdapServer, write_kit_config

NOW = datetime(2026, 12, 7, 1, 0, tzinfo=timezone.utc)
QUICK = 0.5  # seconds: the timeout for the slow registries' tests


@pytest.fixture
def rdap():
    server = RdapServer()
    yield server
    server.stop()


@pytest.fixture
def home(tmp_path, rdap):
    write_kit_config(tmp_path / "kit", rdap.bootstrap_url)
    return Home(tmp_path / "kit")


def client(home, rdap, **kwargs) -> Client:
    return Client(rdap.bootstrap_url, home.folder / CACHE_FOLDER, **kwargs)


# -- networks ------------------------------------------------------------------------------------

def test_a_japanese_network_found_through_the_registry_that_redirects_to_jpnic(home, rdap):
    found = lookup("http://192.0.2.10/gallery/1", home, now=NOW)
    assert found.problems == [] and found.notes == []
    network = found.host["network"]
    assert network == {"holder": "Example Hosting K.K.", "country": "JP", "handle": "192.0.2.0 - 192.0.2.255",
                       "name": "EXAMPLE-HOSTING-NET", "abuse_email": "abuse@hosting.example",
                       "rdap_url": rdap.base + "jpnic/ip/192.0.2.10"}
    assert found.host["overseas"] is False
    assert found.host["addresses"] == ["192.0.2.10"]
    assert found.host["registrar"] is None and found.host["domain"] is None
    assert found.host["looked_up_at"] == "2026-12-07T10:00:00+09:00"
    assert rdap.paths() == ["/iana/ipv4.json", "/apnic/ip/192.0.2.10", "/jpnic/ip/192.0.2.10"]
    assert all(headers["accept"].startswith("application/rdap+json") for _, headers in rdap.requests[1:])


def test_an_overseas_network_whose_country_is_only_in_its_holders_address(home, rdap):
    # ARIN's networks carry no "country": the registrant's vCard address ends with it.
    found = lookup("https://198.51.100.7/", home, now=NOW)
    network = found.host["network"]
    assert (network["holder"], network["country"], network["handle"]) == ("Example Cloud, LLC", "US",
                                                                          "NET-198-51-100-0-1")
    assert network["abuse_email"] == "abuse@cloud.example"
    assert found.host["overseas"] is True


def test_an_ipv6_network_of_a_european_registry(home, rdap):
    found = lookup("http://[2001:db8::5]:8080/x", home, now=NOW)
    assert found.host["addresses"] == ["2001:db8::5"]
    assert (found.host["network"]["holder"], found.host["network"]["country"]) == ("Example Hosting B.V.", "NL")
    assert found.host["overseas"] is True
    assert rdap.paths() == ["/iana/ipv6.json", "/ripe/ip/2001:db8::5"]


def test_localhost_is_resolved_by_the_computers_own_resolver(home, rdap):
    found = lookup("http://localhost:8000/page", home, now=NOW)
    assert found.host["addresses"][0] == "127.0.0.1"
    assert found.host["network"]["holder"] == "セーフライン試験ホスティング株式会社"
    assert found.host["network"]["country"] == "JP"  # "jp" in the answer
    assert found.host["overseas"] is False
    # One label: no registry to ask. The bootstrap's plain-http server for 127/8 was passed over.
    assert found.problems == ["registrar: a name of one label has no registry"]
    assert not any("invalid" in path for path in rdap.paths())


def test_a_whole_lookup_of_a_name_with_its_registrar(home, rdap):
    asked = []

    def resolver(name):  # stands in for DNS: the only part of the lookup that is not real here
        asked.append(name)
        return ["192.0.2.10"]

    found = lookup("https://WWW.Example.co.jp/photos?id=1", home, now=NOW, resolver=resolver)
    assert asked == ["www.example.co.jp"]
    assert found.host["domain"] == "example.co.jp"
    assert found.host["registrar"] == {"name": "株式会社レジストラ見本", "abuse_email": None,
                                       "rdap_url": rdap.base + "jprs/rdap/domain/example.co.jp"}
    assert found.host["overseas"] is False and found.problems == []
    json.dumps(found.to_json())  # the event's data is plain JSON


def test_a_name_that_does_not_resolve_still_gets_its_registrar(home, rdap):
    found = lookup("http://www.example.com/", home, now=NOW, resolver=lambda name: [])
    assert found.host["addresses"] == [] and found.host["network"] is None
    assert found.host["registrar"]["name"] == "Example Registrar, Inc."
    assert found.host["overseas"] is None
    assert found.problems == ["addresses: the name does not resolve in DNS (no address)"]


# -- domains ---------------------------------------------------------------------------------------

def test_the_registered_domain_is_asked_for_from_the_shortest_name_up(home, rdap):
    domain, registrar = client(home, rdap).domain("shop.www.example.co.jp")
    assert domain == "example.co.jp" and registrar["name"] == "株式会社レジストラ見本"
    # The registry never learns more of the host name than the domain it holds.
    assert rdap.paths() == ["/iana/dns.json", "/jprs/rdap/domain/co.jp", "/jprs/rdap/domain/example.co.jp"]


def test_a_suffix_the_registry_refuses_to_look_up_is_passed_over(home, rdap):
    domain, _ = client(home, rdap).domain("www.example.ne.jp")
    assert domain == "example.ne.jp"
    assert rdap.paths()[1:] == ["/jprs/rdap/domain/ne.jp", "/jprs/rdap/domain/example.ne.jp"]
    with pytest.raises(RdapError, match=r"refused the query \(HTTP 400\)"):
        client(home, rdap).get_json(rdap.base + "jprs/rdap/domain/ne.jp")


def test_a_gtld_registrar_with_its_abuse_contact(home, rdap):
    domain, registrar = client(home, rdap).domain("www.example.com")
    assert domain == "example.com"
    assert registrar == {"name": "Example Registrar, Inc.", "abuse_email": "abuse@registrar.example",
                         "rdap_url": rdap.base + "gtld/com/v1/domain/example.com"}
    assert rdap.paths()[1:] == ["/gtld/com/v1/domain/example.com"]


def test_a_domain_no_registry_holds_after_a_few_questions(home, rdap):
    with pytest.raises(RdapError, match="^the registry has no record of this domain$"):
        client(home, rdap).domain("a.b.c.d.e.f.unknown.com")
    assert len(rdap.paths()) == 1 + 4  # dns.json, then at most four names


def test_a_top_level_domain_without_rdap(home, rdap):
    with pytest.raises(RdapError, match=r"^no RDAP server for \.zz: look the domain up on its registry's website$"):
        client(home, rdap).domain("www.example.zz")
    found = lookup("http://www.example.zz/", home, now=NOW, resolver=lambda name: ["198.51.100.7"])
    assert found.host["network"]["country"] == "US" and found.host["registrar"] is None
    assert found.problems == ["registrar: no RDAP server for .zz: look the domain up on its registry's website"]


def test_a_domain_answer_without_a_registrar_and_one_that_is_no_domain(home, rdap):
    assert client(home, rdap).domain("x.odd.example") == ("odd.example", None)
    with pytest.raises(RdapError, match="did not answer with a domain"):
        client(home, rdap).domain("network.example")
    found = lookup("http://x.odd.example/", home, now=NOW, resolver=lambda name: ["192.0.2.10"])
    assert found.host["domain"] == "odd.example" and found.host["registrar"] is None
    assert found.problems == ["registrar: the registry's answer names no registrar"]


@pytest.mark.parametrize("name", ["localhost", "under_score.example", "-bad.example", "a..example"])
def test_no_domain_lookup_for_what_is_not_a_registered_name(home, rdap, name):
    with pytest.raises(RdapError, match="^no domain to look up"):
        client(home, rdap).domain(name)
    assert rdap.paths() == []


# -- registries that misbehave ------------------------------------------------------------------------

ERRORS = [
    ("203.0.113.1", "answered HTTP 503: try again later"),
    ("203.0.113.2", f"did not answer in {QUICK:g} s; try again later"),
    ("203.0.113.3", "is larger than 1 MB: not read"),
    ("203.0.113.4", r"is not RDAP \(not JSON\)"),
    ("203.0.113.6", "^the registry has no network for this address$"),
    ("203.0.113.7", r"not https \(rdap.invalid\): not followed"),
    ("203.0.113.8", "redirected more than 3 times"),
    ("203.0.113.9", r"asks to wait \(too many lookups\)"),
    ("203.0.113.10", r"is not RDAP \(not JSON\)"),
    ("203.0.113.12", f"did not answer in {QUICK:g} s"),
    ("203.0.113.13", "is larger than 1 MB: not read"),
    ("203.0.113.14", "redirected without saying where"),
    ("100.64.0.1", r"^no RDAP server for this address \(not a public address\)$"),
    ("10.1.2.3", r"^no RDAP server for this address \(not a public address\)$"),
]


SLOW = {"203.0.113.2", "203.0.113.12"}


@pytest.mark.parametrize(("address", "message"), ERRORS, ids=[address for address, _ in ERRORS])
def test_each_misbehaving_registry_is_one_line_that_names_no_looked_up_value(home, rdap, address, message):
    # Only the slow registries get the short timeout: on a busy machine a quick answer may take
    # longer than that. They are cut at the deadline, not when their answer ends (after 5 s, 12 s).
    timeout = QUICK if address in SLOW else 10
    start = time.monotonic()
    with pytest.raises(RdapError, match=message) as caught:
        client(home, rdap, timeout=timeout).ip_network(address)
    assert address not in SLOW or time.monotonic() - start < 4
    text = str(caught.value)
    assert "\n" not in text and address not in text and "/ip/" not in text
    with pytest.raises(HostingError) as whole:
        lookup(f"http://{address}/secret-path", home, timeout=timeout, now=NOW)
    assert str(whole.value).startswith("nothing found: network: ") and "secret-path" not in str(whole.value)


def test_a_relative_redirect_is_followed(home, rdap):
    network = client(home, rdap).ip_network("203.0.113.11")
    assert network["holder"] == "Example Cloud, LLC"
    assert network["rdap_url"] == rdap.base + "arin/registry/ip/198.51.100.7"


def test_a_slow_domain_registry(home, rdap):
    with pytest.raises(RdapError, match=f"did not answer in {QUICK:g} s"):
        client(home, rdap, timeout=QUICK).domain("slow.example")


def test_odd_json_gives_what_it_can_and_text_that_cannot_act_on_a_terminal(home, rdap):
    network = client(home, rdap).ip_network("203.0.113.5")
    assert network["holder"] is None and network["country"] is None and network["handle"] is None
    assert network["abuse_email"] is None
    assert network["name"] == "[31mRED [0m NET SECOND LINE"  # ESC, bidi override and line end gone


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                    max_leaves=30)
KEYS = st.sampled_from(["objectClassName", "entities", "roles", "vcardArray", "country", "handle", "name",
                        "remarks", "description", "title"])
SHAPED = st.recursive(
    st.none() | st.integers() | st.sampled_from(["ip network", "domain", "registrant", "registrar", "abuse", "vcard",
                                                 "fn", "email", "adr", "JP", "a@b.example", "description"]),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(KEYS, inner, max_size=6), max_leaves=40)


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON, SHAPED))
def test_any_json_is_read_without_crashing(value):
    for read in (network_of, registrar_of):
        try:
            result = read(value, "https://rdap.example/x")
        except RdapError:
            continue
        if result is not None:
            assert all(v is None or isinstance(v, str) for v in result.values())
            assert all(v is None or ("\n" not in v and len(v) <= 254) for v in result.values())


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=200), JSON.map(lambda value: json.dumps({"services": value}).encode()),
                 SHAPED.map(lambda value: json.dumps(value).encode())))
def test_any_bootstrap_file_is_read_or_refused_in_one_line(body):
    try:
        services = parse_bootstrap(body, "iana.example")
    except RdapError as error:
        assert "\n" not in str(error)
        return
    for entries, urls in services:
        assert entries and urls
        assert all(isinstance(text, str) for text in entries + urls)


# -- the bootstrap files and their cache --------------------------------------------------------------

def test_the_bootstrap_files_are_kept_and_not_asked_for_again_within_a_day(home, rdap):
    lookup("http://192.0.2.10/", home, now=NOW)
    lookup("http://198.51.100.7/", home, now=NOW + timedelta(hours=23))
    assert rdap.paths().count("/iana/ipv4.json") == 1
    cache = home.folder / CACHE_FOLDER
    assert sorted(path.name for path in cache.iterdir()) == ["ipv4.json", "state.json"]
    # Only public data there: nothing of what was looked up.
    for path in cache.iterdir():
        text = path.read_text(encoding="utf-8")
        assert "192.0.2.10" not in text and "198.51.100.7" not in text


def test_after_a_day_they_are_asked_for_again_conditionally(home, rdap):
    lookup("http://192.0.2.10/", home, now=NOW)
    lookup("http://192.0.2.10/", home, now=NOW + timedelta(hours=25))
    asked = [headers for path, headers in rdap.requests if path == "/iana/ipv4.json"]
    assert len(asked) == 2
    assert "if-none-match" not in asked[0]
    assert asked[1]["if-none-match"] == '"bootstrap-2026-11-20"'
    assert asked[1]["if-modified-since"] == "Fri, 20 Nov 2026 21:00:02 GMT"
    state = json.loads((home.folder / CACHE_FOLDER / "state.json").read_text(encoding="utf-8"))
    entry = state["files"]["ipv4.json"]
    assert entry["fetched_at"] == NOW.isoformat(timespec="seconds")  # a 304 keeps the copy
    assert entry["fresh_until"] == (NOW + timedelta(hours=49)).isoformat(timespec="seconds")
    lookup("http://192.0.2.10/", home, now=NOW + timedelta(hours=26))
    assert rdap.paths().count("/iana/ipv4.json") == 2


def test_their_caching_headers_say_how_long_they_stay_fresh(home, rdap):
    rdap.bootstrap_headers = {"Cache-Control": "public, max-age=60"}
    lookup("http://192.0.2.10/", home, now=NOW)
    lookup("http://192.0.2.10/", home, now=NOW + timedelta(seconds=30))
    assert rdap.paths().count("/iana/ipv4.json") == 1
    lookup("http://192.0.2.10/", home, now=NOW + timedelta(minutes=2))
    assert rdap.paths().count("/iana/ipv4.json") == 2


def test_freshness_from_headers():
    assert freshness({}, NOW) == timedelta(days=1)
    assert freshness({"cache-control": "max-age=3600"}, NOW) == timedelta(hours=1)
    assert freshness({"cache-control": "max-age=99999999"}, NOW) == timedelta(days=7)
    assert freshness({"cache-control": "no-cache"}, NOW) == timedelta(0)
    assert freshness({"expires": "Mon, 07 Dec 2026 03:00:00 GMT"}, NOW) == timedelta(hours=2)
    assert freshness({"expires": "not a date"}, NOW) == timedelta(0)


def test_offline_an_old_copy_is_used_and_said_so(home, rdap):
    lookup("http://192.0.2.10/", home, now=NOW)
    rdap.iana_down = True
    found = lookup("http://192.0.2.10/", home, now=NOW + timedelta(days=3))
    assert found.host["network"]["country"] == "JP"
    assert found.notes == ["the RDAP bootstrap file ipv4.json could not be refreshed (127.0.0.1:{} answered HTTP "
                           "503); used the copy of 2026-12-07 10:00 (JST)".format(rdap.base.split(":")[2][:-1])]


def test_offline_with_no_copy_says_what_to_do(home, rdap):
    rdap.stop()
    with pytest.raises(RdapError, match=r"^the RDAP bootstrap file ipv4\.json could not be fetched \(.*could not be "
                                        r"reached.*\); check the internet connection$"):
        client(home, rdap).ip_network("192.0.2.10")


def test_an_unreachable_iana_with_an_old_copy(home, rdap):
    rdap_client = client(home, rdap, now=NOW)
    rdap_client.services("dns.json")
    rdap.stop()
    later = client(home, rdap, now=NOW + timedelta(days=2))
    assert later.services("dns.json") == rdap_client.services("dns.json")
    assert "could not be refreshed" in later.notes[0] and "could not be reached" in later.notes[0]


def test_a_broken_bootstrap_answer_keeps_the_good_copy(home, rdap):
    lookup("http://192.0.2.10/", home, now=NOW)
    good = (home.folder / CACHE_FOLDER / "ipv4.json").read_bytes()
    rdap.bootstrap_override = b'{"services": "none"}'
    found = lookup("http://192.0.2.10/", home, now=NOW + timedelta(days=2))
    assert "has no services" in found.notes[0]
    assert (home.folder / CACHE_FOLDER / "ipv4.json").read_bytes() == good


def test_a_copy_from_another_bootstrap_address_is_not_used(home, rdap, tmp_path):
    lookup("http://192.0.2.10/", home, now=NOW)
    other = RdapServer()
    try:
        write_kit_config(home.folder, other.bootstrap_url)
        lookup("http://192.0.2.10/", home, now=NOW)
        assert other.paths()[0] == "/iana/ipv4.json"
    finally:
        other.stop()


def test_a_damaged_cache_is_fetched_again(home, rdap):
    lookup("http://192.0.2.10/", home, now=NOW)
    (home.folder / CACHE_FOLDER / "ipv4.json").write_text("{not json", encoding="utf-8")
    lookup("http://192.0.2.10/", home, now=NOW)
    assert rdap.paths().count("/iana/ipv4.json") == 2


@pytest.mark.parametrize("address", ["http://rdap.example/", "ftp://127.0.0.1/", "http://localhost/"])
def test_the_bootstrap_address_must_be_https(tmp_path, address):
    with pytest.raises(RdapError, match='^"rdap_bootstrap" in config.json must be an https:// address$'):
        Client(address, tmp_path)


# -- URLs and DNS -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "host"), [
    ("https://a.example\\@b.example/", "a.example"),  # as browsers read it, not as urllib does
    ("http://例え.jp/画像", "xn--r8jz45g.jp"),
    ("  HTTP://WWW.Example.COM.  ", "www.example.com."),
    ("example.com/path", "example.com"),
    ("http://[2001:DB8::1]:8080/", "2001:db8::1"),
    ("http://0x7f.1/", "127.0.0.1"),
])
def test_the_host_is_read_as_browsers_read_it(url, host):
    assert host_of_url(url) == host


@pytest.mark.parametrize("url", ["", "http://", "mailto:someone@example.org", "http://exa mple.com/"])
def test_what_has_no_host_is_refused_in_one_line(url):
    with pytest.raises(HostingError, match="^not a web address with a host name: check the URL$"):
        host_of_url(url)


def test_dns_answers_ipv4_first_without_repeats():
    def getaddrinfo(name, port, type=0):
        return [(socket.AF_INET6, type, 6, "", ("2001:db8::1", 0, 0, 0)),
                (socket.AF_INET, type, 6, "", ("192.0.2.1", 0)),
                (socket.AF_INET, type, 6, "", ("192.0.2.1", 0)),
                (socket.AF_INET6, type, 6, "", ("fe80::1%eth0", 0, 0, 2))]
    assert resolve("www.example.com", getaddrinfo=getaddrinfo) == ["192.0.2.1", "2001:db8::1", "fe80::1"]


def test_dns_that_fails_or_hangs_is_one_line():
    def fails(name, port, type=0):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    def hangs(name, port, type=0):
        time.sleep(2)
        return []

    with pytest.raises(HostingError, match="^the name does not resolve in DNS"):
        resolve("gone.example", getaddrinfo=fails)
    with pytest.raises(HostingError, match="^DNS did not answer in 0.2 s"):
        resolve("slow.example", getaddrinfo=hangs, timeout=0.2)


# -- the command ---------------------------------------------------------------------------------------

def run(capsys, *args):
    with pytest.raises(SystemExit) as done:
        main(list(args))
    out, err = capsys.readouterr()
    return done.value.code, out, err


def test_the_command_says_it_contacts_the_internet_and_shows_a_suggestion(home, rdap, capsys):
    status, out, err = run(capsys, "--home", str(home.folder), "lookup", "http://192.0.2.10/gallery")
    assert status == 0
    assert "contacts the internet from this computer" in err
    assert "suggestion" in out and "check it" in out
    assert ("Network:      Example Hosting K.K., country JP\n"
            "  name:       EXAMPLE-HOSTING-NET (handle 192.0.2.0 - ") in out
    assert "abuse@hosting.example" in out
    assert "Hosted:       domestic (Japan)" in out
    assert "Registrar:    (none: the URL's host is an IP address)" in out
    assert "Looked up:" in out and "(JST)" in out


def test_the_command_prints_json(home, rdap, capsys):
    status, out, _ = run(capsys, "--home", str(home.folder), "lookup", "--json", "http://198.51.100.7/")
    assert status == 0
    result = json.loads(out)
    assert set(result["host"]) == {"addresses", "network", "registrar", "domain", "overseas", "looked_up_at"}
    assert result["host"]["overseas"] is True and result["problems"] == [] and result["notes"] == []


def test_the_command_when_nothing_is_found(home, rdap, capsys):
    status, out, err = run(capsys, "--home", str(home.folder), "lookup", "http://203.0.113.6/private")
    assert status == 1 and out.startswith("") and "private" not in err
    assert err.strip().splitlines()[-1] == ("safeline-staff: nothing found: network: the registry has no network "
                                            "for this address")


def test_the_command_escapes_what_registries_say(home, rdap, capsys):
    status, out, _ = run(capsys, "--home", str(home.folder), "lookup", "http://203.0.113.5/")
    assert status == 0 and "\x1b" not in out and "\u202e" not in out
    assert ("Network:      not given, country not given\n"
            "  name:       [31mRED [0m NET SECOND LINE (handle not given)") in out


def test_help_says_that_it_contacts_the_internet():
    text = parser()._subparsers._group_actions[0].choices["lookup"].format_help()
    assert "contacts the internet from this computer" in " ".join(text.split())


def test_without_a_kit_the_command_says_so(tmp_path, capsys):
    status, _, err = run(capsys, "--home", str(tmp_path / "none"), "lookup", "http://192.0.2.10/")
    assert status == 1 and "run `safeline-staff init` first" in err


def test_lookup_needs_a_staff_error_not_a_traceback_for_a_bad_url(home, capsys):
    status, _, err = run(capsys, "--home", str(home.folder), "lookup", "http://")
    assert status == 1 and "Traceback" not in err and "check the URL" in err
    assert isinstance(HostingError("x"), StaffError)


# -- keeping it with a case's URL (--save) -------------------------------------------------------------

@pytest.fixture
def kit(staff_home, rdap):
    """A real kit (A's GnuPG key, an encrypted store) whose RDAP goes to the local server, with
    one case holding two URLs."""
    from dataclasses import replace

    from staff.setup import open_store

    staff_home.save_config(replace(staff_home.config(), rdap_bootstrap=rdap.bootstrap_url))
    with open_store(staff_home) as store:
        reference = store.add_phone_case(role="self", description="photos", urls=[
            "http://192.0.2.10/Gallery/../photo 1", "http://localhost:8000/x"])
    return staff_home, reference


def test_save_checks_the_case_and_its_url_before_anything_goes_out(kit, rdap, capsys):
    home, reference = kit
    status, out, err = run(capsys, "--home", str(home.folder), "lookup", "--save", "SL-0000-0000", "--yes",
                           "http://192.0.2.10/photo%201")
    assert status == 1 and "no such case" in err and out == ""
    status, out, err = run(capsys, "--home", str(home.folder), "lookup", "--save", reference, "--yes",
                           "http://192.0.2.99/")
    assert status == 1 and "the case holds no such URL" in err and out == ""
    assert rdap.paths() == []


def test_save_in_a_script_needs_yes(kit, rdap, capsys):
    home, reference = kit
    status, _, err = run(capsys, "--home", str(home.folder), "lookup", "--save", reference,
                         "http://192.0.2.10/photo%201")
    assert status == 1 and "add --yes" in err
    assert rdap.paths() == []


def test_a_suggestion_not_confirmed_is_not_kept(kit, rdap, capsys):
    from staff.hosting import run_lookup
    from staff.setup import open_store

    home, reference = kit
    args = parser().parse_args(["--home", str(home.folder), "lookup", "--save", reference,
                                "http://192.0.2.10/Gallery/../photo 1"])
    asked = []
    assert run_lookup(args, confirm=lambda question: asked.append(question) or False) == 0
    assert asked == ["Keep this as the URL's host? [y/N] "]
    assert "not kept" in capsys.readouterr().err
    assert rdap.paths()[-1] == "/jpnic/ip/192.0.2.10"
    with open_store(home) as store:
        assert [event for event in store.pending_events() if event.type == "url_host"] == []
        assert store.url("http://192.0.2.10/photo%201").host_info is None


def test_a_production_bootstrap_never_allows_plain_http_even_to_this_computer(tmp_path):
    rdap_client = Client("https://data.iana.org/rdap/", tmp_path)
    assert not rdap_client._allowed("http://127.0.0.1:8080/ip/192.0.2.1")
    assert rdap_client._allowed("https://rdap.example/ip/192.0.2.1")
    assert not rdap_client._allowed("https://rdap.example:bad/ip/192.0.2.1")
    assert not rdap_client._allowed("https:///ip/192.0.2.1")


def test_what_a_lookup_finds_is_valid_data_of_a_url_host_event(home, rdap):
    from staff.events import Event, new_event

    found = lookup("https://www.example.co.jp/x", home, now=NOW, resolver=lambda name: ["192.0.2.10"])
    event = new_event("SL-ABCD-EFGH", "url_host", {"url": "https://www.example.co.jp/x", "host": found.host},
                      author="A" * 40)
    assert Event.from_bytes(event.to_bytes()).data["host"] == found.host


def test_a_confirmed_suggestion_is_kept_with_the_url_as_an_event(kit, rdap, capsys):
    from staff.hosting import run_lookup
    from staff.setup import open_store

    home, reference = kit
    args = parser().parse_args(["--home", str(home.folder), "lookup", "--json", "--save", reference,
                                "http://192.0.2.10/photo%201"])
    assert run_lookup(args, confirm=lambda question: True) == 0
    out, err = capsys.readouterr()
    host = json.loads(out)["host"]
    assert f"kept with the URL in {reference}" in err
    with open_store(home) as store:
        assert store.url("http://192.0.2.10/photo%201").host_info == host
        [event] = [event for event in store.pending_events() if event.type == "url_host"]
        assert event.data == {"url": "http://192.0.2.10/photo%201", "host": host}


@pytest.mark.parametrize(("typed", "kept"), [("y\n", True), ("YES\n", True), ("\n", False), ("n\n", False),
                                             ("", False)])
def test_the_question_is_asked_on_stderr_and_only_yes_keeps(monkeypatch, capsys, typed, kept):
    import io

    from staff.hosting import _ask

    monkeypatch.setattr("sys.stdin", io.StringIO(typed))
    assert _ask("Keep? [y/N] ") is kept
    out, err = capsys.readouterr()
    assert out == "" and err == "Keep? [y/N] "


@pytest.mark.parametrize("order", [1, -1], ids=["narrow-last", "narrow-first"])
def test_the_longest_bootstrap_entry_wins_for_a_domain(tmp_path, order):
    rdap_client = Client("https://iana.example/", tmp_path)
    rdap_client._services["dns.json"] = [(["jp"], ["https://jp.example/"]),
                                         (["CO.JP."], ["http://co.example/", "https://co.example/rdap"])][::order]
    assert rdap_client.server_for_domain("www.example.co.jp") == ("https://co.example/rdap/", 2)
    assert rdap_client.server_for_domain("example.jp") == ("https://jp.example/", 1)


def test_a_confirmed_host_in_one_line(home, rdap):
    from staff.hosting import summary

    found = lookup("https://www.example.co.jp/x", home, now=NOW, resolver=lambda name: ["192.0.2.10"])
    expected = "Example Hosting K.K. (JP), registrar 株式会社レジストラ見本 (example.co.jp)"
    assert summary(found.host) == expected
    assert summary({"network": {"country": "US"}, "registrar": None}) == "a network in US"
    for odd in (None, [], "text", {"network": "x", "registrar": 5}, {"network": {"holder": 3}}):
        assert summary(odd) == ""


def test_save_with_yes_from_the_command_line(kit, rdap, capsys):
    from staff.setup import open_store

    home, reference = kit
    status, out, err = run(capsys, "--home", str(home.folder), "lookup", "--save", reference.lower(), "--yes",
                           "http://localhost:8000/x")
    assert status == 0 and f"kept with the URL in {reference}" in err
    assert "セーフライン試験ホスティング株式会社" in out
    with open_store(home) as store:
        info = store.url("http://localhost:8000/x").host_info
        assert info["network"]["holder"] == "セーフライン試験ホスティング株式会社" and info["overseas"] is False
        assert [case.reference for case in store.cases()] == [reference]
        assert [event.type for event in store.events(reference)][-1] == "url_host"
