"""The team's events folder (staff/eventfolder.py): a folder of a real Dovecot mailbox over TLS, and
a local Maildir, with one interface: append, and read what came after a position."""

from __future__ import annotations

import pytest

from devtools.ports import HOST, free_port
from staff.eventfolder import FolderError, FolderUnreachable, ImapEventFolder, MaildirEventFolder, open_folder
from staff.imap import KEYRING_SERVICE, ImapError
from tests.support.dovecot import Dovecot

FOLDER = "Safeline-Events"


def mail(number: int) -> bytes:
    """An event-shaped mail (CRLF lines, as IMAP keeps them byte for byte)."""
    return (f"From: safeline-staff@invalid\r\nSubject: safeline-staff event\r\nX-Safeline-Staff: event 1\r\n"
            f"Message-ID: <{number:032x}@safeline-staff.invalid>\r\n\r\nbody {number}\r\n").encode("ascii")


def no_prompt(prompt: str) -> str:
    raise AssertionError("the password was asked where the keyring holds it")


@pytest.fixture
def imap_folder(imap_account, certificate, staff_keyring):
    """A way to open the events folder of this test's own mailbox, as a kit does (password from the keyring)."""
    staff_keyring.set_password(KEYRING_SERVICE, f"{imap_account.user}@{HOST}", imap_account.password)
    url = f"{imap_account.url}/{FOLDER}"
    opened = []

    def open_it():
        folder = open_folder(url, ca_file=certificate[0], password_prompt=no_prompt)
        opened.append(folder)
        return folder

    yield open_it
    for folder in opened:
        folder.close()


@pytest.fixture
def maildir_folder(tmp_path):
    return lambda: open_folder(str(tmp_path / "events"))


@pytest.fixture(params=["imap", "maildir"])
def opener(request):
    return request.getfixturevalue(f"{request.param}_folder")


# -- the same interface, both kinds ----------------------------------------------------------

def test_what_one_appends_another_reads_in_order_once(opener):
    writer, reader = opener(), opener()
    assert list(reader.read(None)) == []
    empty = reader.position
    sent = [mail(number) for number in range(5)]
    idents = [writer.append(data) for data in sent[:3]]
    got = list(reader.read(empty))
    assert [item.data for item in got] == sent[:3]
    assert [item.ident for item in got] == idents
    assert got[-1].position == reader.position
    for data in sent[3:]:
        writer.append(data)
    more = list(reader.read(reader.position))
    assert [item.data for item in more] == sent[3:]
    assert list(reader.read(reader.position)) == []
    # From the middle: each mail's position is where reading goes on after it.
    assert [item.data for item in reader.read(got[0].position)] == sent[1:]
    # A fresh kit (no position) reads everything.
    assert [item.data for item in opener().read(None)] == sent


def test_a_position_of_another_folder_reads_everything(opener):
    folder = opener()
    for number in range(3):
        folder.append(mail(number))
    list(folder.read(None))
    kind = "imap" if isinstance(folder, ImapEventFolder) else "maildir"
    stranger = "123:2" if kind == "imap" else "0123456789abcdef:" + "9" * 30
    assert [item.data for item in folder.read(stranger)] == [mail(number) for number in range(3)]
    assert [item.data for item in folder.read("nonsense")] == [mail(number) for number in range(3)]


# -- IMAP ------------------------------------------------------------------------------------

def test_the_folder_is_created_when_missing_and_reading_changes_nothing(imap_folder, imap_account):
    with imap_account.client() as client:
        assert not client.folder_exists(FOLDER)
    folder = imap_folder()
    with imap_account.client() as client:
        assert client.folder_exists(FOLDER)
    uid = folder.append(mail(1))
    assert uid is not None and uid.isdigit()  # Dovecot answers APPENDUID
    assert [item.ident for item in folder.read(None)] == [uid]
    assert imap_account.flags(FOLDER) == {int(uid): ()}  # not even \Seen
    imap_folder()  # a second kit: the folder is there already


def test_a_new_uidvalidity_reads_the_folder_again(imap_folder, imap_account):
    folder = imap_folder()
    folder.append(mail(1))
    list(folder.read(None))
    old = folder.position
    folder.close()
    # The folder is deleted and made again (restored from a backup, say): its UIDs start over.
    with imap_account.client() as client:
        client.delete_folder(FOLDER)
        client.create_folder(FOLDER)
    again = imap_folder()
    again.append(mail(2))
    assert [item.data for item in again.read(old)] == [mail(2)]
    assert again.position.split(":")[0] != old.split(":")[0]


def test_the_events_never_go_to_the_inbox(imap_account, certificate):
    for url in (imap_account.url, f"{imap_account.url}/INBOX", f"{imap_account.url}/inbox"):
        with pytest.raises(FolderError, match="not INBOX") as raised:
            open_folder(url, ca_file=certificate[0], password_prompt=no_prompt)
        assert "\n" not in str(raised.value)


def test_a_server_that_cannot_be_reached_is_offline(imap_account, certificate):
    url = f"imaps://{imap_account.user}@{HOST}:{free_port()}/{FOLDER}"
    with pytest.raises(FolderUnreachable, match="refused the connection"):
        open_folder(url, ca_file=certificate[0], password_prompt=lambda prompt: imap_account.password,
                    keyring_service=None)


def test_settings_to_fix_are_not_offline(imap_account, certificate):
    url = f"{imap_account.url}/{FOLDER}"
    with pytest.raises(ImapError) as raised:
        open_folder(url, password_prompt=lambda prompt: imap_account.password, keyring_service=None)
    assert not isinstance(raised.value, FolderUnreachable) and "not trusted" in str(raised.value)
    with pytest.raises(ImapError) as raised:
        open_folder(url, ca_file=certificate[0], password_prompt=lambda prompt: "wrong", keyring_service=None)
    assert not isinstance(raised.value, FolderUnreachable) and "refused the login" in str(raised.value)


def test_a_stopped_server_is_offline(tmp_path, certificate):
    server = Dovecot(tmp_path / "dovecot", certificate).start()
    try:
        account = server.account()
        url = f"{account.url}/{FOLDER}"
        folder = open_folder(url, ca_file=certificate[0], password_prompt=lambda prompt: account.password,
                             keyring_service=None)
        folder.append(mail(1))
        folder.close()
    finally:
        server.stop()
    with pytest.raises(FolderUnreachable, match="refused the connection"):
        open_folder(url, ca_file=certificate[0], password_prompt=lambda prompt: account.password,
                    keyring_service=None)


def test_a_connection_lost_midway_is_offline(imap_folder):
    import socket

    folder = imap_folder()
    folder.append(mail(1))
    # The network goes (a laptop closed, Wi-Fi lost) while the kit is connected. (A stopped
    # Dovecot keeps serving the connections it has: only new ones are refused.)
    folder._connection._client.socket().shutdown(socket.SHUT_RDWR)
    with pytest.raises(FolderUnreachable) as raised:
        folder.append(mail(2))
    assert "\n" not in str(raised.value) and "run sync again" in str(raised.value)
    with pytest.raises(FolderUnreachable):
        list(folder.read(None))


# -- a local Maildir -------------------------------------------------------------------------

def test_a_maildir_is_made_when_missing_and_written_whole(tmp_path):
    folder = MaildirEventFolder(tmp_path / "a" / "events")
    name = folder.append(mail(1))
    assert sorted(path.name for path in (tmp_path / "a" / "events").iterdir()) == [
        ".safeline-staff-folder", "cur", "new", "tmp"]
    assert [path.name for path in (tmp_path / "a" / "events" / "new").iterdir()] == [name]
    assert list((tmp_path / "a" / "events" / "tmp").iterdir()) == []


def test_a_maildir_mail_moved_to_cur_is_still_read_once(tmp_path):
    folder = MaildirEventFolder(tmp_path / "events")
    first = folder.append(mail(1))
    list(folder.read(None))
    position = folder.position
    second = folder.append(mail(2))
    # A mail program marks both read: new/NAME becomes cur/NAME:2,S.
    for name in (first, second):
        (tmp_path / "events" / "new" / name).rename(tmp_path / "events" / "cur" / f"{name}:2,S")
    assert [item.data for item in folder.read(position)] == [mail(2)]
    assert [item.ident for item in folder.read(None)] == [first, second]


def test_a_maildir_made_again_is_read_again(tmp_path):
    import shutil

    folder = MaildirEventFolder(tmp_path / "events")
    folder.append(mail(1))
    list(folder.read(None))
    old = folder.position
    shutil.rmtree(tmp_path / "events")
    again = MaildirEventFolder(tmp_path / "events")
    again.append(mail(2))
    assert [item.data for item in again.read(old)] == [mail(2)]


def test_no_events_folder_in_the_config(tmp_path):
    for where in (None, "", "  "):
        with pytest.raises(FolderError, match='no "events"'):
            open_folder(where)
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder should be")
    with pytest.raises(FolderError, match="cannot use the events folder"):
        open_folder(str(blocked))
