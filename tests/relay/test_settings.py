"""The relay's settings read from a given environment: each default, each bound, each problem's words.

``Settings.from_env`` and ``DeliverySettings.from_env`` are called with a plain dict, so nothing
here starts an app or touches the disk (``writable_outbox`` aside).  The defaults are README's
settings table, written out again here: a default changed in the code must fail until README
changes with it.  A refusal's lines are compared whole: they are what an operator reads.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from relay.config import (ConfigError, DeliverySettings, Settings, is_production, staff_keys_source,
                          writable_outbox)
from tests.support.site import ROOT

# A production environment that passes every check: each test changes one thing.
PRODUCTION = {
    "RELAY_ENV": "production",
    "RELAY_SECRET_KEY": "p" * 32,
    "RELAY_STAFF_KEYS": "/etc/safeline/staff-keys",
    "RELAY_MAIL_TO": "staff@safeline.example",
    "RELAY_MAIL_FROM": "relay@safeline.example",
    "RELAY_CONTACT_ADDRESS": "contact@safeline.example",
    "RELAY_SMTP_URL": "smtp+starttls://relay:secret@mail.safeline.example:587",
    "RELAY_OUTBOX": "/var/lib/safeline/outbox",
    "RELAY_SITE_ORIGIN": "https://safeline.example",
    "RELAY_PROXIES": "1",
    "RELAY_RATELIMIT_STORAGE": "redis://127.0.0.1:6379/0",
}
MISSING = ": missing (required when RELAY_ENV=production)"


def problems(environ: dict[str, str], read=Settings.from_env) -> list[str]:
    """The lines of the ConfigError that reading ``environ`` ends with."""
    with pytest.raises(ConfigError) as caught:
        read(environ)
    return caught.value.lines


def development(**changed: str) -> Settings:
    return Settings.from_env({"RELAY_ENV": "development", **changed})


def production(**changed: str) -> Settings:
    return Settings.from_env({**PRODUCTION, **changed})


# -- defaults ---------------------------------------------------------------------------------

def test_development_with_nothing_set_uses_readmes_defaults():
    settings = Settings.from_env({})
    assert settings.env == "development" and not settings.production
    assert settings.secret_key == "development-only-secret-key-never-use-in-production"
    assert settings.staff_keys == ROOT / "var" / "dev" / "keys" / "staff.pub.asc"
    assert settings.mail_to == ("staff@safeline.test",)
    assert settings.mail_from == "relay@safeline.test"
    assert settings.smtp_url == "smtp://127.0.0.1:8025"
    assert settings.outbox == ROOT / "var" / "dev" / "outbox"
    assert settings.ratelimit_storage == "memory://"
    assert settings.ratelimit == "5 per hour;20 per day"
    assert settings.ratelimit_posts == "60 per hour"
    assert settings.ratelimit_network == "10 per hour;40 per day"
    assert settings.ratelimit_site == "60 per hour"
    assert settings.outbox_max_bytes == 200 * 1024 * 1024
    assert settings.site_origin == "http://127.0.0.1:8000"
    assert settings.min_fill_seconds == 3
    assert settings.proxies == 0
    assert settings.quick_exit_url == "https://tenki.jp/"
    assert settings.contact_address == "contact@safeline.test"
    assert settings.staff_language == "ja"


def test_production_keeps_the_defaults_that_are_the_same_everywhere():
    settings = production()
    assert settings.production and settings.env == "production"
    assert settings.ratelimit == "5 per hour;20 per day"
    assert settings.outbox_max_bytes == 200 * 1024 * 1024
    assert settings.min_fill_seconds == 3
    assert settings.quick_exit_url == "https://tenki.jp/"
    assert settings.staff_language == "ja"


def test_values_are_read_without_surrounding_spaces():
    settings = production(RELAY_ENV=" production ", RELAY_PROXIES=" 2 ", RELAY_SITE_ORIGIN=" https://safeline.example/ ")
    assert settings.production
    assert settings.proxies == 2
    assert settings.site_origin == "https://safeline.example"  # and without a trailing slash


def test_settings_cannot_be_changed_once_checked():
    """Every check runs once, at start: a value changed afterwards would bypass it."""
    settings = production()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.proxies = 99
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.delivery.outbox = Path("/tmp")


def test_the_outbox_cap_is_read_in_mebibytes():
    assert development(RELAY_OUTBOX_MAX_MB="3").outbox_max_bytes == 3 * 1024 * 1024
    assert development(RELAY_OUTBOX_MAX_MB="1").outbox_max_bytes == 1_048_576


def test_the_mail_domain_is_what_follows_the_at_sign_of_the_sender():
    assert development().mail_domain == "safeline.test"
    assert production(RELAY_MAIL_FROM="relay@mail.safeline.example").mail_domain == "mail.safeline.example"


def test_several_staff_mailboxes_are_separated_by_commas():
    settings = production(RELAY_MAIL_TO=" a@safeline.example, ,b@safeline.example ,")
    assert settings.mail_to == ("a@safeline.example", "b@safeline.example")


def test_a_mailbox_on_a_local_host_without_a_dot_is_accepted():
    # A staff mailbox on the mail server itself (root@mailhost) is an address; only DNS could judge it.
    assert production(RELAY_MAIL_TO="staff@mailhost").mail_to == ("staff@mailhost",)


@pytest.mark.parametrize("storage", ["redis://127.0.0.1:6379/0", "rediss://redis.example:6380/1",
                                     "redis+unix:///run/redis/redis.sock"])
def test_every_redis_form_is_accepted_in_production(storage):
    assert production(RELAY_RATELIMIT_STORAGE=storage).ratelimit_storage == storage


def test_development_accepts_http_and_relative_paths():
    settings = development(RELAY_SITE_ORIGIN="http://localhost:8000", RELAY_OUTBOX="var/outbox")
    assert settings.site_origin == "http://localhost:8000"
    assert settings.outbox == Path("var/outbox")


# -- bounds: the last value accepted, and one past it refused ------------------------------------

def test_the_secret_key_needs_32_characters():
    assert production(RELAY_SECRET_KEY="k" * 32).secret_key == "k" * 32
    assert problems({**PRODUCTION, "RELAY_SECRET_KEY": "k" * 31}) == [
        "RELAY_SECRET_KEY: too short; use at least 32 random characters "
        "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"]


def test_the_outbox_cap_is_from_1_to_1000000_mb():
    assert development(RELAY_OUTBOX_MAX_MB="1").outbox_max_bytes == 1024 * 1024
    assert development(RELAY_OUTBOX_MAX_MB="1000000").outbox_max_bytes == 1_000_000 * 1024 * 1024
    assert problems({"RELAY_OUTBOX_MAX_MB": "0"}) == ["RELAY_OUTBOX_MAX_MB: must be from 1 to 1000000, not 0"]
    assert problems({"RELAY_OUTBOX_MAX_MB": "1000001"}) == [
        "RELAY_OUTBOX_MAX_MB: must be from 1 to 1000000, not 1000001"]
    assert problems({"RELAY_OUTBOX_MAX_MB": "1.5"}) == ["RELAY_OUTBOX_MAX_MB: must be a whole number, not '1.5'"]


def test_the_number_of_proxies_is_from_0_to_5():
    assert production(RELAY_PROXIES="0").proxies == 0  # the development default, but written
    assert production(RELAY_PROXIES="5").proxies == 5
    assert problems({**PRODUCTION, "RELAY_PROXIES": "6"}) == ["RELAY_PROXIES: must be from 0 to 5, not 6"]
    assert problems({**PRODUCTION, "RELAY_PROXIES": "-1"}) == ["RELAY_PROXIES: must be from 0 to 5, not -1"]
    assert problems({**PRODUCTION, "RELAY_PROXIES": "one"}) == ["RELAY_PROXIES: must be a whole number, not 'one'"]


def test_the_minimum_fill_time_is_from_0_to_600_seconds():
    assert development(RELAY_MIN_FILL_SECONDS="0").min_fill_seconds == 0
    assert development(RELAY_MIN_FILL_SECONDS="600").min_fill_seconds == 600
    assert development(RELAY_MIN_FILL_SECONDS="2.5").min_fill_seconds == 2.5
    for value in ("600.5", "-0.1", "nan", "inf"):
        assert problems({"RELAY_MIN_FILL_SECONDS": value}) == [
            f"RELAY_MIN_FILL_SECONDS: must be from 0 to 600, not {value}"]
    assert problems({"RELAY_MIN_FILL_SECONDS": "soon"}) == ["RELAY_MIN_FILL_SECONDS: must be a number, not 'soon'"]


# -- each problem, in its words -------------------------------------------------------------------

def test_production_with_nothing_set_names_each_missing_variable_once():
    assert problems({"RELAY_ENV": "production"}) == [
        "RELAY_SECRET_KEY" + MISSING,
        "RELAY_STAFF_KEYS" + MISSING,
        "RELAY_MAIL_TO" + MISSING,
        "RELAY_MAIL_FROM" + MISSING,
        "RELAY_SMTP_URL" + MISSING,
        "RELAY_OUTBOX" + MISSING,
        "RELAY_RATELIMIT_STORAGE" + MISSING + ": redis://127.0.0.1:6379/0, a local redis-server "
                                              "(memory:// is refused in production)",
        "RELAY_SITE_ORIGIN" + MISSING,
        "RELAY_PROXIES" + MISSING + ": 1 behind the shipped nginx (ProxyFix then trusts the address it "
                                    "passes on), 0 if clients reach the relay directly",
        "RELAY_CONTACT_ADDRESS" + MISSING,
    ]


def test_an_empty_or_blank_value_is_missing():
    assert problems({**PRODUCTION, "RELAY_MAIL_FROM": "", "RELAY_SECRET_KEY": "  "}) == [
        "RELAY_SECRET_KEY" + MISSING, "RELAY_MAIL_FROM" + MISSING]


def test_an_unknown_environment_is_named_and_judged_as_production():
    assert problems({"RELAY_ENV": "staging"})[:2] == [
        "RELAY_ENV: must be 'development' or 'production', not 'staging'",
        "RELAY_SECRET_KEY" + MISSING,
    ]
    assert problems({**PRODUCTION, "RELAY_ENV": "Production"}) == [
        "RELAY_ENV: must be 'development' or 'production', not 'Production'"]


def test_production_refuses_each_development_default_by_name():
    defaults = Settings.from_env({})
    lines = problems({**PRODUCTION, "RELAY_SECRET_KEY": defaults.secret_key, "RELAY_MAIL_TO": "staff@safeline.test",
                      "RELAY_OUTBOX": str(defaults.outbox), "RELAY_SITE_ORIGIN": "http://127.0.0.1:8000"})
    assert lines == [
        "RELAY_SECRET_KEY: is the development default; production needs its own value",
        "RELAY_MAIL_TO: is the development default; production needs its own value",
        "RELAY_OUTBOX: is the development default; production needs its own value",
        "RELAY_SITE_ORIGIN: is the development default; production needs its own value",
        "RELAY_SITE_ORIGIN: must be https:// in production",
    ]


def test_production_refuses_memory_storage_and_says_why():
    assert problems({**PRODUCTION, "RELAY_RATELIMIT_STORAGE": "memory://"}) == [
        "RELAY_RATELIMIT_STORAGE: memory:// is refused in production: each gunicorn worker would keep its own "
        "limits and spent form tokens and lose them whenever it is restarted (a spent token could then send a "
        "second report); use redis://127.0.0.1:6379/0 (a local redis-server)"]


def test_a_storage_that_is_neither_memory_nor_redis_is_refused_without_its_password():
    assert problems({"RELAY_RATELIMIT_STORAGE": "memcached://cache:hunter2@127.0.0.1:11211"}) == [
        "RELAY_RATELIMIT_STORAGE: must be memory:// or redis://host:port[/db], "
        "not 'memcached://cache:***@127.0.0.1:11211'"]
    assert problems({"RELAY_RATELIMIT_STORAGE": "memcached://127.0.0.1:11211"}) == [
        "RELAY_RATELIMIT_STORAGE: must be memory:// or redis://host:port[/db], not 'memcached://127.0.0.1:11211'"]


@pytest.mark.parametrize("name", ["RELAY_RATELIMIT", "RELAY_RATELIMIT_NETWORK", "RELAY_RATELIMIT_SITE",
                                  "RELAY_RATELIMIT_POSTS"])
def test_each_rate_limit_is_checked(name):
    assert getattr(development(**{name: "2 per minute"}), name.lower().removeprefix("relay_")) == "2 per minute"
    assert problems({name: "lots"}) == [f"{name}: 'lots' is not a rate limit like '5 per hour;20 per day'"]


@pytest.mark.parametrize("origin", ["ftp://safeline.example", "https://", "https://safeline.example/report",
                                    "https://safeline.example?lang=ja", "safeline.example",
                                    "https://safeline.example#top", "https://u:p@safeline.example",
                                    "https://safeline.example:99999", "https://safeline.example:65536",
                                    "https://safeline.example:0", "https://safeline.example;x",
                                    "https://safe line.example", "https://-safeline.example"])
def test_the_site_origin_is_a_scheme_and_a_host_only(origin):
    assert problems({**PRODUCTION, "RELAY_SITE_ORIGIN": origin}) == [
        f"RELAY_SITE_ORIGIN: must be scheme://host[:port] with nothing after it, not {origin.rstrip('/')!r}"]


@pytest.mark.parametrize("origin", ["https://safeline.example", "https://www.safeline.example:8443",
                                    "https://safeline.example:65535", "http://127.0.0.1:8000", "http://[::1]:8000",
                                    "http://localhost"])
def test_an_origin_as_browsers_send_it_is_accepted(origin):
    assert development(RELAY_SITE_ORIGIN=origin).site_origin == origin


def test_production_needs_an_absolute_outbox():
    assert problems({**PRODUCTION, "RELAY_OUTBOX": "var/outbox"}) == [
        "RELAY_OUTBOX: must be an absolute path in production, not 'var/outbox'"]


def test_a_bad_smtp_url_is_refused_in_the_parsers_words():
    assert problems({"RELAY_SMTP_URL": "http://mail.example.org:25"}) == [
        "RELAY_SMTP_URL: SMTP URL: scheme is 'http'; use smtp://, smtp+starttls:// or smtps://"]


def test_each_bad_address_is_named_with_the_reason():
    lines = problems({**PRODUCTION, "RELAY_MAIL_TO": "staff@safeline.example, staff", "RELAY_MAIL_FROM": "relay@例え.jp",
                      "RELAY_CONTACT_ADDRESS": "contact at safeline"})
    assert lines == [
        "RELAY_MAIL_TO: 'staff' is not an e-mail address (An email address must have an @-sign.)",
        "RELAY_MAIL_FROM: 'relay@例え.jp' must be written in ASCII (for a Japanese domain, its xn-- form)",
        "RELAY_CONTACT_ADDRESS: 'contact at safeline' is not an e-mail address (An email address must have an @-sign.)",
    ]


def test_the_quick_exit_must_be_https():
    assert production(RELAY_QUICK_EXIT_URL="https://www.yahoo.co.jp/").quick_exit_url == "https://www.yahoo.co.jp/"
    assert problems({"RELAY_QUICK_EXIT_URL": "http://tenki.jp/"}) == [
        "RELAY_QUICK_EXIT_URL: must start with https://, not 'http://tenki.jp/'"]


def test_staff_write_in_one_of_the_sites_languages():
    assert development(RELAY_STAFF_LANGUAGE="en").staff_language == "en"
    assert problems({"RELAY_STAFF_LANGUAGE": "fr"}) == [
        "RELAY_STAFF_LANGUAGE: must be one of the site's languages (ja, en), not 'fr'"]


def test_every_problem_is_reported_at_once_in_reading_order():
    assert problems({**PRODUCTION, "RELAY_SECRET_KEY": "short", "RELAY_MAIL_TO": "staff", "RELAY_PROXIES": "9",
                     "RELAY_STAFF_LANGUAGE": "fr"}) == [
        "RELAY_SECRET_KEY: too short; use at least 32 random characters "
        "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))')",
        "RELAY_MAIL_TO: 'staff' is not an e-mail address (An email address must have an @-sign.)",
        "RELAY_PROXIES: must be from 0 to 5, not 9",
        "RELAY_STAFF_LANGUAGE: must be one of the site's languages (ja, en), not 'fr'",
    ]


# -- the delivery worker's settings ----------------------------------------------------------------

DELIVERY = {name: PRODUCTION[name] for name in
            ("RELAY_ENV", "RELAY_MAIL_TO", "RELAY_MAIL_FROM", "RELAY_SMTP_URL", "RELAY_OUTBOX")}


def test_the_delivery_worker_reads_only_its_own_settings():
    """A broken web setting (or none at all) never keeps confirmed reports from going out."""
    settings = DeliverySettings.from_env({**DELIVERY, "RELAY_SECRET_KEY": "short", "RELAY_STAFF_LANGUAGE": "fr"})
    assert settings == DeliverySettings("production", ("staff@safeline.example",), "relay@safeline.example",
                                        PRODUCTION["RELAY_SMTP_URL"], Path("/var/lib/safeline/outbox"))
    assert settings.production is True


def test_the_delivery_worker_reads_the_processs_environment(monkeypatch):
    # Strings from os.environ are built at run time, never the interned literals of a test.
    for name in [name for name in os.environ if name.startswith("RELAY_")]:
        monkeypatch.delenv(name)
    for name, value in DELIVERY.items():
        monkeypatch.setenv(name, value)
    settings = DeliverySettings.from_env()
    assert settings.production is True
    assert settings.mail_to == ("staff@safeline.example",)


def test_the_delivery_workers_settings_in_development():
    settings = DeliverySettings.from_env({})
    assert settings.production is False
    assert settings == DeliverySettings("development", ("staff@safeline.test",), "relay@safeline.test",
                                        "smtp://127.0.0.1:8025", ROOT / "var" / "dev" / "outbox")


def test_the_delivery_worker_refuses_its_own_bad_settings():
    assert problems({"RELAY_ENV": "production"}, read=DeliverySettings.from_env) == [
        "RELAY_MAIL_TO" + MISSING, "RELAY_MAIL_FROM" + MISSING, "RELAY_SMTP_URL" + MISSING, "RELAY_OUTBOX" + MISSING]


def test_the_web_relays_settings_carry_the_delivery_workers():
    assert production().delivery == DeliverySettings.from_env(DELIVERY)
    assert Settings.from_env({}).delivery == DeliverySettings.from_env({})


# -- the other readers ----------------------------------------------------------------------------

def test_is_production_follows_relay_env_and_treats_unknown_values_as_production(monkeypatch):
    assert is_production({}) is False
    assert is_production({"RELAY_ENV": "development"}) is False
    assert is_production({"RELAY_ENV": "production"}) is True
    assert is_production({"RELAY_ENV": "staging"}) is True
    monkeypatch.setenv("RELAY_ENV", "production")
    assert is_production() is True  # no mapping: the process's environment
    monkeypatch.delenv("RELAY_ENV")
    assert is_production() is False


def test_the_staff_keys_source():
    assert staff_keys_source({}) == str(ROOT / "var" / "dev" / "keys" / "staff.pub.asc")
    assert staff_keys_source({**PRODUCTION}) == "/etc/safeline/staff-keys"
    with pytest.raises(ConfigError) as caught:
        staff_keys_source({"RELAY_ENV": "production"})
    assert caught.value.lines == ["RELAY_STAFF_KEYS" + MISSING]


def test_writable_outbox_makes_the_folder_with_its_cap(tmp_path):
    outbox = writable_outbox(tmp_path / "outbox", max_bytes=5 * 1024 * 1024)
    assert (tmp_path / "outbox").is_dir()
    assert outbox.max_bytes == 5 * 1024 * 1024
    assert writable_outbox(tmp_path / "uncapped").max_bytes is None


def test_writable_outbox_refuses_a_file_in_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError) as caught:
        writable_outbox(blocker)
    [line] = caught.value.lines
    assert line.startswith("RELAY_OUTBOX: ") and str(blocker) in line
