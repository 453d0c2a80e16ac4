"""``safeline-staff import``: the relay-made mailbox into the store, counted exactly, once; the
store's file as noise; nothing else written anywhere; the mailbox left as it was."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
import time

import pytest

from staff.home import Config, Home
from staff.importer import GPG_WORKERS, Tally, import_mail
from staff.mailbox import MaildirSource
from staff.message import KINDS
from staff.openpgp import PASSPHRASE_ENV, GnuPGIdentity, KeyFileIdentity, identity_of
from staff.problems import StaffError
from staff.setup import init, open_store
from tests.support.folder_events import FolderEvents
from tests.support.staff_records import report
from tests.support.staffkit import copy_maildir, staff_cli

# The corpus' skipped mails, again: the relay's own mails are now "already imported".
def again(corpus) -> str:
    total = sum(corpus.skipped.values()) + corpus.reports + corpus.additions
    kinds = {"already imported": corpus.reports + corpus.additions, **corpus.skipped}
    listed = ", ".join(f"{kinds[kind]} {kind}" for kind in KINDS if kinds.get(kind))
    return f"imported 0 reports, 0 additions; skipped {total} ({listed})"


def import_cli(home: Home, maildir, *, env: dict | None = None, **options):
    return staff_cli("--home", str(home.folder), "import", "--maildir", str(maildir), env=env, **options)


def mailbox_state(folder) -> dict:
    return {str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mtime_ns)
            for path in folder.rglob("*") if path.is_file()}


def test_import_counts_exactly_and_only_once(staff_home, relay_corpus):
    before = mailbox_state(relay_corpus.maildir)
    first = import_cli(staff_home, relay_corpus.maildir)
    assert first.returncode == 0, first.stderr
    assert first.stdout == relay_corpus.summary + "\n"
    assert first.stderr == ""  # no progress bar when stderr is no terminal
    second = import_cli(staff_home, relay_corpus.maildir)
    assert second.stdout == again(relay_corpus) + "\n"
    assert mailbox_state(relay_corpus.maildir) == before  # never marked, moved or deleted
    with open_store(staff_home) as store:
        assert store.count() == relay_corpus.reports
        case = store.case(relay_corpus.references[0])
        assert [record.kind for record in case.records] == ["report", "addition"]
        assert [url.url for url in case.urls] == ["https://images.example.com/p/ajisai1",
                                                 "https://more.example.com/p/ajisai2"]


def test_the_summary_line():
    tally = Tally(reports=3, additions=1)
    assert tally.summary() == "imported 3 reports, 1 additions; skipped 0"
    for kind in ("malformed", "not encrypted", "not encrypted", "already imported"):
        tally.skip(kind)
    assert tally.summary() == ("imported 3 reports, 1 additions; skipped 4 "
                               "(1 already imported, 2 not encrypted, 1 malformed)")


def test_the_same_mail_twice_in_the_mailbox(staff_home, staff_gnupg, relay_corpus, tmp_path):
    maildir = copy_maildir(relay_corpus.maildir, tmp_path / "Maildir")
    first = sorted((maildir / "cur").iterdir())[0]
    (maildir / "new" / "9999999999.copy").write_bytes(first.read_bytes())
    identity = GnuPGIdentity(staff_gnupg.fingerprint, gnupg_home=staff_gnupg.home)
    with open_store(staff_home, identity=identity) as store:
        tally = import_mail(MaildirSource(maildir), store, identity, progress=False)
    assert (tally.reports, tally.additions) == (relay_corpus.reports, relay_corpus.additions)
    assert tally.skipped["duplicate"] == 1


def test_a_deleted_case_never_comes_back(staff_home, staff_gnupg, relay_corpus):
    identity = GnuPGIdentity(staff_gnupg.fingerprint, gnupg_home=staff_gnupg.home)
    with open_store(staff_home, identity=identity) as store:
        import_mail(MaildirSource(relay_corpus.maildir), store, identity, progress=False)
        assert store.delete(relay_corpus.references[0])
        tally = import_mail(MaildirSource(relay_corpus.maildir), store, identity, progress=False)
        assert (tally.reports, tally.additions) == (0, 0)
        assert store.count() == relay_corpus.reports - 1
        assert store.case(relay_corpus.references[0]) is None


def test_import_with_a_key_file_in_process(tmp_path, staff_gnupg, relay_corpus):
    key_file = tmp_path / "secret.asc"
    key_file.write_bytes(staff_gnupg.locked_secret)
    home = Home(tmp_path / "kit")
    init(home, Config(key_file=str(key_file)), passphrase=staff_gnupg.passphrase)
    identity = KeyFileIdentity.load(key_file, staff_gnupg.passphrase)
    with open_store(home, identity=identity) as store:
        tally = import_mail(MaildirSource(relay_corpus.maildir), store, identity, progress=False)
    assert tally.summary() == relay_corpus.summary


def test_import_with_the_locked_gnupg_key_by_loopback(tmp_path, staff_gnupg, relay_corpus):
    home = Home(tmp_path / "kit")
    init(home, Config(key=staff_gnupg.locked_fingerprint, gnupg_home=str(staff_gnupg.locked_home)),
         passphrase=staff_gnupg.passphrase)
    done = import_cli(home, relay_corpus.maildir, env={PASSPHRASE_ENV: staff_gnupg.passphrase})
    assert done.returncode == 0, done.stderr
    assert done.stdout == relay_corpus.summary + "\n"
    wrong = import_cli(home, relay_corpus.maildir, env={PASSPHRASE_ENV: "not it"})
    assert wrong.returncode == 1 and wrong.stdout == ""
    assert wrong.stderr.count("\n") == 1 and "wrong passphrase" in wrong.stderr


def test_a_key_that_fails_mid_import_stops_it(tmp_path, staff_gnupg, relay_corpus):
    home = Home(tmp_path / "kit")
    init(home, Config(key=staff_gnupg.locked_fingerprint, gnupg_home=str(staff_gnupg.locked_home)),
         passphrase=staff_gnupg.passphrase)
    good = GnuPGIdentity(staff_gnupg.locked_fingerprint, gnupg_home=staff_gnupg.locked_home,
                         passphrase=staff_gnupg.passphrase)
    wrong = GnuPGIdentity(staff_gnupg.locked_fingerprint, gnupg_home=staff_gnupg.locked_home, passphrase="no")
    with open_store(home, identity=good) as store:
        with pytest.raises(StaffError, match="wrong passphrase"):
            import_mail(MaildirSource(relay_corpus.maildir), store, wrong, progress=False)
        assert store.count() == 0  # the batch was rolled back: the next import takes it all


STRANGERS = ("utf-8", "utf-16-le", "utf-16-be")


def test_the_store_file_reads_as_noise(staff_home, relay_corpus):
    assert import_cli(staff_home, relay_corpus.maildir).returncode == 0
    data = b"".join(path.read_bytes() for path in staff_home.folder.iterdir() if path.name.startswith("cases"))
    assert len(data) > 10000
    secrets = [*relay_corpus.secrets, "SQLite format 3", "safeline", "report", "description"]
    for secret in secrets:
        for encoding in STRANGERS:
            assert secret.encode(encoding) not in data, (secret, encoding)


def test_nothing_but_the_store_is_written_while_importing(staff_home, relay_corpus, staff_gnupg, tmp_path):
    """No temporary file, no clear text beside the store: the home and TMPDIR (for this test's
    Python and gpg) see no file but the store's own (its rollback journal is encrypted too)."""
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    home_events, tmp_events = FolderEvents(staff_home.folder), FolderEvents(tmp)
    done = import_cli(staff_home, relay_corpus.maildir, env={"TMPDIR": str(tmp), "TMP": str(tmp), "TEMP": str(tmp)})
    home_seen, tmp_seen = home_events.read(), tmp_events.read()
    assert done.returncode == 0, done.stderr
    assert tmp_seen == [] and os.listdir(tmp) == []
    assert {name for _, name in home_seen} <= {"cases.sqlite3", "cases.sqlite3-journal", "cases.sqlite3-wal",
                                               "cases.sqlite3-shm"}
    assert sorted(os.listdir(staff_home.folder)) == ["cases.sqlite3", "config.json", "store-key.asc"]


def test_a_progress_bar_on_a_terminal(staff_home, relay_corpus):
    controller, terminal = pty.openpty()
    try:
        done = import_cli(staff_home, relay_corpus.maildir, stderr=terminal, stdout=subprocess.PIPE)
        os.close(terminal)
        terminal = None
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
        if terminal is not None:
            os.close(terminal)
    assert done.returncode == 0
    total = len(MaildirSource(relay_corpus.maildir))
    assert f"] {total}/{total}".encode() in shown and b"#" in shown
    assert shown.endswith(b"\r\x1b[K")  # the bar is wiped: the summary stands alone
    assert done.stdout == relay_corpus.summary + "\n"


def test_say_where_the_mail_is(staff_home):
    done = staff_cli("--home", str(staff_home.folder), "import")
    assert done.returncode == 1 and "--maildir DIR or --imap URL" in done.stderr


def test_not_a_maildir(staff_home, tmp_path):
    done = import_cli(staff_home, tmp_path)
    assert done.returncode == 1 and "not a Maildir" in done.stderr and done.stderr.count("\n") == 1


def test_a_folder_of_eml_files_is_read_as_a_mailbox(staff_home, relay_corpus, tmp_path):
    # As ./run serve's development mail server stores mails, and mail clients export them.
    folder = tmp_path / "exported"
    folder.mkdir()
    for n, mail in enumerate(sorted(MaildirSource(relay_corpus.maildir), key=lambda mail: mail.ident)):
        (folder / f"{n:03}.eml").write_bytes(mail.data)
    (folder / "notes.txt").write_bytes(b"not a mail")
    done = import_cli(staff_home, folder)
    assert done.returncode == 0, done.stderr
    assert done.stdout == relay_corpus.summary + "\n"


def test_a_maildir_is_read_in_cur_and_new_only(tmp_path, relay_corpus):
    maildir = copy_maildir(relay_corpus.maildir, tmp_path / "Maildir")
    (maildir / "tmp" / "1.half-delivered").write_bytes(b"Subject: half")
    (maildir / "new" / ".hidden").write_bytes(b"Subject: hidden")
    (maildir / "cur" / "sub").mkdir()
    source = MaildirSource(maildir)
    mails = list(source)
    assert len(source) == len(mails) == len(list(relay_corpus.maildir.rglob("*.*")))
    assert all(":" not in mail.ident for mail in mails)
    # A mail the mail client moved away while importing is simply not there.
    source = MaildirSource(maildir)
    (maildir / "new" / "1765000100.M100P1.plain").unlink()
    assert len(list(source)) == len(mails) - 1


def test_a_report_sent_again_under_another_message_id_is_a_duplicate(staff_home, staff_gnupg, relay_corpus,
                                                                        tmp_path):
    """Import takes a report once by its reference too: the same report re-sent as a new mail."""
    from relay import openpgp

    from staff import message
    from tests.support.staffkit import _pgp_mime

    identity = GnuPGIdentity(staff_gnupg.fingerprint, gnupg_home=staff_gnupg.home)
    original = sorted((relay_corpus.maildir / "cur").iterdir())[0].read_bytes()
    outer_id, ciphertext = message.envelope(original)
    clear = identity.decrypt(ciphertext).replace(outer_id.encode(), b"<resent@corpus.test>")
    resent = _pgp_mime(openpgp.encrypt(clear, openpgp.parse_certs(staff_gnupg.public)),
                       message_id="<resent@corpus.test>")
    maildir = copy_maildir(relay_corpus.maildir, tmp_path / "Maildir")
    (maildir / "new" / "9999999999.resent").write_bytes(resent)
    with open_store(staff_home, identity=identity) as store:
        tally = import_mail(MaildirSource(maildir), store, identity, progress=False)
        assert store.count() == relay_corpus.reports
    assert (tally.reports, tally.additions, tally.skipped["duplicate"]) == \
        (relay_corpus.reports, relay_corpus.additions, 1)


def test_ctrl_c_keeps_what_was_decrypted_and_import_goes_on(staff_home, relay_corpus):
    # A staff member stops an import midway: what was read whole is stored, the tally says
    # so, and the next import takes up the rest without a mail twice.
    mails = list(MaildirSource(relay_corpus.maildir))

    class Interrupted:
        def __len__(self):
            return len(mails)

        def __iter__(self):
            yield from mails[:10]
            raise KeyboardInterrupt

    tally = Tally()
    with open_store(staff_home) as store:
        with pytest.raises(KeyboardInterrupt):
            import_mail(Interrupted(), store, identity_of(staff_home), progress=False, tally=tally)
        kept = store.count()
    # Ten mails were read; those gpg had not started yet when Ctrl+C came were cancelled.
    assert 10 - 2 * GPG_WORKERS <= tally.reports + tally.additions + sum(tally.skipped.values()) <= 10
    assert tally.reports == kept > 0  # stored, not rolled back
    done = import_cli(staff_home, relay_corpus.maildir)
    assert done.returncode == 0, done.stderr
    with open_store(staff_home) as store:
        assert store.count() == relay_corpus.reports


def test_an_import_waits_for_another_writer_and_the_interface_reads_meanwhile(staff_home, relay_corpus):
    # Another safeline-staff holds the store for a write (an import's batch, a note from the
    # interface): this import waits its turn and finishes; a reader is never blocked.
    holder = open_store(staff_home)
    released = threading.Event()

    def hold():
        with holder.batch():
            holder.add(report(), message_id="<held@relay>")
            with open_store(staff_home) as reader:
                assert reader.count() == 0  # reads while the write is open (WAL), without it
            released.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        time.sleep(0.5)
        importing = subprocess.Popen([sys.executable, "-m", "staff", "--home", str(staff_home.folder), "import",
                                      "--maildir", str(relay_corpus.maildir)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        time.sleep(2)
        released.set()
        out, err = importing.communicate(timeout=120)
    finally:
        released.set()
        thread.join()
        holder.close()
    assert importing.returncode == 0, err
    assert out == relay_corpus.summary + "\n"
