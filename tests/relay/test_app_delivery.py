"""From the form to the staff's mailbox when the mail server is having trouble.

The reporter is told their report arrived as soon as it is sealed in the outbox; it waits
there, encrypted, for as long as the mail server refuses or is away, and leaves only once
the server has taken it.
"""

from __future__ import annotations

import shutil
from email import message_from_bytes, policy

from relay.delivery import Counts
from relay.outbox import Outbox
from relay.services import services
from tests.support.relay_app import deliver, outbox_files
from tests.support.reports import OUTER_HEADERS, REFERENCE, decrypt_mail, get_token, parse, sent_reference, submit

MARKER = "dlv9marker"
REPORT = {
    "role": "self",
    "email": f"{MARKER}.hanako@example.jp",
    "urls": f"https://images.example.com/{MARKER}/1",
    "description": f"知人に撮られた写真です。{MARKER}",
}


def assert_sealed(data: bytes) -> None:
    """An encrypted mail: 7-bit, the ciphertext, and nothing that was typed."""
    assert data.isascii()
    assert b"-----BEGIN PGP MESSAGE-----" in data
    for value in (MARKER, REPORT["email"], "知人に撮られた写真"):
        assert value.encode() not in data
    outer = message_from_bytes(data, policy=policy.default)
    assert sorted(outer.keys()) == sorted(OUTER_HEADERS)


def assert_readable(mail: bytes, staff_keys, reference: str) -> None:
    for secret in staff_keys.secrets.values():
        subject, _, record = decrypt_mail(mail, secret)
        assert reference in subject
        assert record["reference"] == reference
        assert record["description"] == REPORT["description"]
        assert record["email"] == REPORT["email"]


def test_a_report_waits_encrypted_while_the_server_answers_451(app, client, outbox_dir, staff_keys, mail_server):
    mail_server.fail_with_451 = True
    response = submit(client, **REPORT)
    reference = sent_reference(client, response)  # confirmed: the report is safe in the outbox
    assert REFERENCE.match(reference)

    [waiting] = outbox_files(outbox_dir)
    sealed = waiting.read_bytes()
    assert_sealed(sealed)

    assert deliver(app()) == Counts(deferred=1)
    assert deliver(app()) == Counts(deferred=1)
    assert outbox_files(outbox_dir) == [waiting]
    assert waiting.read_bytes() == sealed
    assert mail_server.messages() == []

    mail_server.fail_with_451 = False
    assert deliver(app()) == Counts(sent=1)
    assert outbox_files(outbox_dir) == []
    [received] = mail_server.messages()
    assert received.read_bytes() == sealed
    assert_readable(sealed, staff_keys, reference)
    assert deliver(app()) == Counts()  # nothing left, nothing sent twice
    assert len(mail_server.messages()) == 1


def test_a_report_waits_while_the_server_is_down(app, client, outbox_dir, staff_keys, mail_server):
    mail_server.stop()
    reference = sent_reference(client, submit(client, lang="en", **REPORT))
    [waiting] = outbox_files(outbox_dir)
    sealed = waiting.read_bytes()
    assert_sealed(sealed)

    assert deliver(app()) == Counts(deferred=1)
    assert outbox_files(outbox_dir) == [waiting] and waiting.read_bytes() == sealed

    mail_server.start()
    assert deliver(app()) == Counts(sent=1)
    assert outbox_files(outbox_dir) == []
    [received] = mail_server.messages()
    assert received.read_bytes() == sealed
    assert_readable(sealed, staff_keys, reference)


def test_reports_keep_arriving_while_delivery_is_refused(app, client, outbox_dir, mail_server):
    mail_server.fail_with = "550 5.7.1 refused"
    references = [sent_reference(client, submit(client, **REPORT)) for _ in range(3)]
    assert len(set(references)) == 3
    assert deliver(app()) == Counts(refused=3)  # kept: a refusal never loses a report
    assert len(outbox_files(outbox_dir)) == 3

    mail_server.fail_with = None
    assert deliver(app()) == Counts(sent=3)
    assert outbox_files(outbox_dir) == []
    delivered = [message_from_bytes(p.read_bytes(), policy=policy.default)["Subject"] for p in mail_server.messages()]
    assert sorted(delivered) == sorted(f"Safeline report {reference}" for reference in references)


def test_the_delivered_message_id_is_the_one_in_the_outbox(app, client, outbox_dir, mail_server):
    reference = sent_reference(client, submit(client, **REPORT))
    [waiting] = outbox_files(outbox_dir)
    message_id = Outbox.message_id(waiting)
    assert message_id and reference in message_id and message_id.endswith("@safeline.example>")

    assert deliver(app()) == Counts(sent=1)
    [received] = mail_server.messages()
    assert message_from_bytes(received.read_bytes(), policy=policy.default)["Message-ID"] == message_id
    assert mail_server.count(message_id) == 1


def test_a_sealed_report_in_the_outbox_holds_no_clear_text(client, outbox_dir):
    for lang in ("ja", "en"):
        assert submit(client, lang=lang, **REPORT).status_code == 303
    files = outbox_files(outbox_dir)
    assert len(files) == 2
    for path in files:
        assert path.stat().st_mode & 0o777 == 0o600
        assert_sealed(path.read_bytes())
    assert list((outbox_dir / "tmp").iterdir()) == []


def test_an_outbox_that_fails_after_start_loses_nothing_and_says_so(
        app, client, outbox_dir, staff_keys, caplog, capfd):
    relay_app = app()
    shutil.rmtree(outbox_dir)
    outbox_dir.write_text("")  # the disk is there, the folder is not: put() must fail
    token = get_token(client)
    response = submit(client, token=token, **REPORT)

    # The reporter is told plainly that nothing was sent, with everything they typed.
    assert response.status_code == 503
    page = parse(response)
    assert "いま通報を受け付けられませんでした。何も送られていません。" in page.find(class_="error-summary").text
    for name in ("email", "urls", "description"):
        assert page.value(name) == REPORT[name]
    assert page.value("token") == token
    logs = caplog.text + "".join(capfd.readouterr())
    assert "unavailable" in logs and "Traceback" not in logs and MARKER not in logs

    # Once the outbox is back, the same form goes through.
    outbox_dir.unlink()
    reference = sent_reference(client, submit(client, token=token, **REPORT))
    [stored] = outbox_files(outbox_dir)
    assert reference in stored.name
    assert_readable(stored.read_bytes(), staff_keys, reference)
    assert services(relay_app).outbox.pending() == [stored]
