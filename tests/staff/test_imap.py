"""The staff mailbox over IMAP (staff/imap.py), against a real Dovecot on loopback.

Each test has a mailbox of its own (``imap_account``) on the session's server, and a keyring of
its own (``staff_keyring``, empty unless the test fills it): the password never comes from the
keyring of the computer the tests run on.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys

import pytest

from devtools.ports import HOST, free_port
from staff.imap import KEYRING_SERVICE, ImapError, ImapSource, parse_address
from tests.support.dovecot import Dovecot
from tests.support.mail import sealed_message
from tests.support.staff_keyring import keyring_env


def no_prompt(prompt: str) -> str:
    raise AssertionError(f"the password was asked ({prompt!r}) where it must not be")


def answer(password: str, asked: list[str] | None = None):
    """A password prompt that answers ``password`` and notes what it was asked."""
    def prompt(text: str) -> str:
        if asked is not None:
            asked.append(text)
        return password
    return prompt


def one_line(error: pytest.ExceptionInfo) -> str:
    text = str(error.value)
    assert text and "\n" not in text and "\r" not in text
    return text


def messages(count: int, *, size: int = 0) -> list[bytes]:
    """Relay-shaped messages (CRLF lines: IMAP's own form, so they come back byte for byte)."""
    return [sealed_message(f"SL-{n:04d}-TEST", size=size) for n in range(count)]


def in_keyring(staff_keyring, account) -> None:
    staff_keyring.set_password(KEYRING_SERVICE, f"{account.user}@{HOST}", account.password)


# -- reading -----------------------------------------------------------------------------------

def test_the_source_reads_exactly_the_delivered_messages_byte_for_byte(imap_account, certificate, staff_keyring):
    sent = [*messages(3), sealed_message("SL-BIG0-TEST", size=300_000),
            # 8-bit bytes and a lone byte that is not UTF-8: the source hands over bytes, untouched.
            b"Subject: =?utf-8?b?5aCx5ZGK?=\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            b"\xe5\xa0\xb1\xe5\x91\x8a \xff\r\n"]
    uids = imap_account.deliver(sent)
    in_keyring(staff_keyring, imap_account)
    with ImapSource(imap_account.url, ca_file=certificate[0], password_prompt=no_prompt) as source:
        assert len(source) == len(sent)
        mails = list(source)
    assert [mail.data for mail in mails] == sent
    assert [mail.ident for mail in mails] == [str(uid) for uid in uids]


def test_nothing_of_the_conversation_is_logged_even_at_debug(imap_account, certificate, caplog):
    caplog.set_level(logging.DEBUG)  # an application that logs everything for itself
    sent = [sealed_message("SL-LOGS-TEST", body="a clear-text body that must not be logged\r\n")]
    imap_account.deliver(sent)
    caplog.clear()
    with ImapSource(imap_account.url, ca_file=certificate[0], password_prompt=answer(imap_account.password),
                    keyring_service=None) as source:
        assert [mail.data for mail in source] == sent
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "clear-text body" not in logged and "SL-LOGS-TEST" not in logged
    assert imap_account.password not in logged


def test_batches_cover_every_message_once_in_uid_order(imap_account, certificate):
    sent = messages(23)
    uids = imap_account.deliver(sent)
    with ImapSource(imap_account.url, ca_file=certificate[0], password_prompt=answer(imap_account.password),
                    keyring_service=None, batch=5) as source:
        mails = list(source)
        assert list(source) == mails  # iterating again reads the same, from the server
    assert [(mail.ident, mail.data) for mail in mails] == [(str(uid), data) for uid, data in zip(uids, sent)]


def test_an_empty_folder_has_no_mail(imap_account, certificate):
    imap_account.deliver([], folder="Empty")
    with ImapSource(f"{imap_account.url}/Empty", ca_file=certificate[0],
                    password_prompt=answer(imap_account.password), keyring_service=None) as source:
        assert len(source) == 0
        assert list(source) == []


def test_reading_changes_no_flag(imap_account, certificate):
    uids = imap_account.deliver(messages(4))
    with imap_account.client() as client:  # as the staff member's mail client would have left them
        client.select_folder("INBOX")
        client.add_flags([uids[1]], [b"\\Seen"])
        client.add_flags([uids[2]], [b"\\Flagged", b"\\Answered"])
    before = imap_account.flags()
    assert before[uids[0]] == ()  # unread, and must stay so
    with ImapSource(imap_account.url, ca_file=certificate[0], password_prompt=answer(imap_account.password),
                    keyring_service=None) as source:
        assert len(list(source)) == 4
    assert imap_account.flags() == before


def test_the_folder_comes_from_the_address(imap_account, certificate):
    imap_account.deliver(messages(1))
    reports = messages(2, size=1000)
    imap_account.deliver(reports, folder="Safeline Reports")
    with ImapSource(f"{imap_account.url}/Safeline%20Reports", ca_file=certificate[0],
                    password_prompt=answer(imap_account.password), keyring_service=None) as source:
        assert [mail.data for mail in source] == reports


def test_a_missing_folder_is_one_line(imap_account, certificate):
    with pytest.raises(ImapError) as error:
        ImapSource(f"{imap_account.url}/Nowhere", ca_file=certificate[0],
                   password_prompt=answer(imap_account.password), keyring_service=None)
    assert "no folder 'Nowhere'" in one_line(error)


def test_plain_imap_is_accepted_to_this_computer(imap_account):
    sent = messages(2)
    imap_account.deliver(sent)
    with ImapSource(imap_account.plain_url, password_prompt=answer(imap_account.password),
                    keyring_service=None) as source:
        assert [mail.data for mail in source] == sent


# -- the password ------------------------------------------------------------------------------

def test_the_password_comes_from_the_keyring_when_it_holds_one(imap_account, certificate, staff_keyring):
    in_keyring(staff_keyring, imap_account)
    with ImapSource(imap_account.url, ca_file=certificate[0], password_prompt=no_prompt) as source:
        assert len(source) == 0
    assert staff_keyring.asked == [(KEYRING_SERVICE, f"{imap_account.user}@{HOST}")]


def test_without_a_keyring_entry_the_password_is_asked(imap_account, certificate, staff_keyring):
    asked: list[str] = []
    with ImapSource(imap_account.url, ca_file=certificate[0], password_prompt=answer(imap_account.password, asked)):
        pass
    assert staff_keyring.asked == [(KEYRING_SERVICE, f"{imap_account.user}@{HOST}")]
    assert asked == [f"IMAP password for {imap_account.user}@{HOST}: "]


def test_a_wrong_password_is_one_line_that_does_not_repeat_it(imap_account, certificate, staff_keyring):
    with pytest.raises(ImapError) as error:
        ImapSource(imap_account.url, ca_file=certificate[0], password_prompt=answer("not-the-password-42"))
    text = one_line(error)
    assert f"refused the login of {imap_account.user}" in text and "check the user name and password" in text
    assert "not-the-password-42" not in text and "keyring" not in text


def test_a_stale_keyring_entry_is_named_as_the_likely_cause(imap_account, certificate, staff_keyring):
    staff_keyring.set_password(KEYRING_SERVICE, f"{imap_account.user}@{HOST}", "an-old-password")
    with pytest.raises(ImapError) as error:
        ImapSource(imap_account.url, ca_file=certificate[0], password_prompt=no_prompt)
    assert f"keyring's entry ({KEYRING_SERVICE}, {imap_account.user}@{HOST}) may be out of date" in one_line(error)


def test_no_password_to_be_had_is_one_line(imap_account, certificate, staff_keyring):
    def closed_stdin(prompt: str) -> str:
        raise EOFError

    with pytest.raises(ImapError) as error:
        ImapSource(imap_account.url, ca_file=certificate[0], password_prompt=closed_stdin)
    assert f"keyring set {KEYRING_SERVICE} {imap_account.user}@{HOST}" in one_line(error)


# -- the address -------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["imap://staff@mail.example.org", "imap://staff@192.0.2.1:143/INBOX",
                                 "imap://staff@[2001:db8::1]", "imap://staff@127.0.0.1.example.org"])
def test_plain_imap_to_another_computer_is_refused_before_any_connection(url):
    with pytest.raises(ImapError) as error:
        ImapSource(url, password_prompt=no_prompt)
    assert "would send the password in clear text" in one_line(error)


def test_the_address_is_taken_apart():
    address = parse_address("imaps://staff%40safeline.example@mail.example.org/Reports/2026")
    assert (address.user, address.host, address.port, address.folder, address.tls) == \
        ("staff@safeline.example", "mail.example.org", 993, "Reports/2026", True)
    assert address.account == "staff@safeline.example@mail.example.org"
    assert parse_address("imaps://s@[::1]:10993").where == "[::1]:10993"
    for loopback in ("imap://s@127.0.0.1", "imap://s@[::1]", "imap://s@LOCALHOST", "imap://s@127.1.2.3"):
        assert parse_address(loopback).port == 143


@pytest.mark.parametrize(("url", "says"), [
    ("imaps://staff:secret@mail.example.org", "holds a password"),
    ("https://staff@mail.example.org", "scheme 'https'"),
    ("mail.example.org", "no scheme"),
    ("imaps://mail.example.org", "needs a user and a host"),
    ("imaps://staff@mail.example.org:99999", "not an IMAP address"),
    ("imaps://staff@mail.example.org/INBOX?x=1", "query or fragment"),
])
def test_a_wrong_address_is_one_line(url, says):
    with pytest.raises(ImapError) as error:
        ImapSource(url, password_prompt=no_prompt)
    text = one_line(error)
    assert says in text and "secret" not in text


# -- the connection ----------------------------------------------------------------------------

def test_an_untrusted_self_signed_certificate_fails_verification(imap_account, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)  # the system's authorities only
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with pytest.raises(ImapError) as error:
        ImapSource(imap_account.url, password_prompt=no_prompt, keyring_service=None)
    text = one_line(error)
    assert f"the certificate of {HOST}:{imap_account.server.port} is not trusted (self-signed certificate)" in text
    assert "--imap-ca" in text


def test_another_authority_than_the_servers_is_not_trusted(imap_account, tmp_path):
    other = tmp_path / "other.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(tmp_path / "other.key"), "-out", str(other)], check=True, capture_output=True,
                   timeout=30)
    with pytest.raises(ImapError) as error:
        ImapSource(imap_account.url, ca_file=other, password_prompt=no_prompt, keyring_service=None)
    assert "is not trusted" in one_line(error)


def test_a_certificate_for_another_name_is_not_trusted(imap_account, certificate):
    # The test certificate names 127.0.0.1 only; the host name is checked even with its CA trusted.
    url = f"imaps://{imap_account.user}@localhost:{imap_account.server.port}"
    with pytest.raises(ImapError) as error:
        ImapSource(url, ca_file=certificate[0], password_prompt=no_prompt, keyring_service=None)
    assert "is not trusted (Hostname mismatch" in one_line(error)


def test_a_missing_ca_file_is_one_line(imap_account, tmp_path):
    with pytest.raises(ImapError) as error:
        ImapSource(imap_account.url, ca_file=tmp_path / "none.pem", password_prompt=no_prompt)
    assert "no certificate file" in one_line(error)


def test_a_refused_connection_is_one_line():
    port = free_port()  # nothing listens there
    with pytest.raises(ImapError) as error:
        ImapSource(f"imaps://staff@{HOST}:{port}", password_prompt=no_prompt, keyring_service=None)
    assert one_line(error) == (f"{HOST}:{port} refused the connection: check the host and port of the IMAP address")


def test_tls_to_a_plain_imap_port_is_one_line(imap_account, certificate):
    url = f"imaps://{imap_account.user}@{HOST}:{imap_account.server.plain_port}"
    with pytest.raises(ImapError) as error:
        ImapSource(url, ca_file=certificate[0], password_prompt=no_prompt, keyring_service=None)
    text = one_line(error)
    assert text.startswith(f"TLS with {HOST}:{imap_account.server.plain_port} failed") and "imaps port" in text


def test_a_server_that_never_answers_times_out_in_one_line():
    with socket.socket() as silent:  # accepts connections (the kernel's backlog), says nothing
        silent.bind((HOST, 0))
        silent.listen()
        port = silent.getsockname()[1]
        with pytest.raises(ImapError) as error:
            ImapSource(f"imaps://staff@{HOST}:{port}", password_prompt=no_prompt, keyring_service=None, timeout=0.3)
    assert one_line(error) == f"{HOST}:{port} did not answer within 0.3 s: check the address and the network"



def test_a_server_gone_while_reading_is_one_line(tmp_path, certificate):
    server = Dovecot(tmp_path / "dovecot", certificate).start()  # its own: this test stops it
    try:
        account = server.account()
        account.deliver(messages(4))
        source = ImapSource(account.url, ca_file=certificate[0], password_prompt=answer(account.password),
                            keyring_service=None, batch=2)
        mails = iter(source)
        assert next(mails).ident == "1"
        assert next(mails).ident == "2"
        server.stop()
        with pytest.raises(ImapError) as error:
            next(mails)
        text = one_line(error)
        assert text.startswith(f"reading 'INBOX' from {HOST}:{server.port} failed (")
        assert text.endswith("): run the import again (what it imported already is skipped)")
        source.close()  # a connection already gone closes quietly
    finally:
        server.stop()


# -- end to end: safeline-staff import --imap ------------------------------------------------------

def staff_command(home, *args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess:
    """``safeline-staff --home HOME …`` in a process of its own, without a terminal (a new session)."""
    return subprocess.run([sys.executable, "-m", "staff", "--home", str(home.folder), *args], input=stdin,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=300,
                          start_new_session=True)


def test_import_over_imap_takes_the_relay_mails_once(imap_account, certificate, relay_corpus, staff_home):
    folder = relay_corpus.maildir
    mails = [path.read_bytes() for path in sorted([*(folder / "new").iterdir(), *(folder / "cur").iterdir()])]
    imap_account.deliver(mails)
    flags = imap_account.flags()
    command = ["import", "--imap", imap_account.url, "--imap-ca", str(certificate[0])]

    # The password from the keyring: the test's own backend, named in PYTHON_KEYRING_BACKEND.
    first = staff_command(staff_home, *command,
                          env=keyring_env([(KEYRING_SERVICE, f"{imap_account.user}@{HOST}", imap_account.password)]))
    assert (first.returncode, first.stderr) == (0, "")
    assert first.stdout == relay_corpus.summary + "\n"

    # The password typed (no keyring entry): getpass reads it from stdin without a terminal.
    second = staff_command(staff_home, *command, env=keyring_env([]), stdin=imap_account.password + "\n")
    assert second.returncode == 0, second.stderr
    assert f"IMAP password for {imap_account.user}@{HOST}: " in second.stderr
    summary = second.stdout.strip()
    assert summary.startswith("imported 0 reports, 0 additions; skipped ")
    assert f"{relay_corpus.reports + relay_corpus.additions} already imported" in summary
    assert int(summary.split("skipped ")[1].split()[0]) == len(mails)
    assert imap_account.flags() == flags  # both imports left every message as it was


def test_import_with_a_wrong_password_says_so_in_one_line(imap_account, certificate, staff_home):
    result = staff_command(staff_home, "import", "--imap", imap_account.url, "--imap-ca", str(certificate[0]),
                           env=keyring_env([(KEYRING_SERVICE, f"{imap_account.user}@{HOST}", "stale")]))
    assert result.returncode == 1
    assert result.stderr == (f"safeline-staff: {HOST}:{imap_account.server.port} refused the login of "
                             f"{imap_account.user}: check the user name and password; the system keyring's entry "
                             f"({KEYRING_SERVICE}, {imap_account.user}@{HOST}) may be out of date\n")
    assert result.stdout == ""
