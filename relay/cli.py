"""Commands under ``flask --app relay``: keys, deliver, and two development helpers.

    flask --app relay keys                 list the staff keys: fingerprint, user IDs, expiry
    flask --app relay deliver [--once]     the delivery worker (retries with backoff)
    flask --app relay dev-keys             make the development key pair (refused in production)
    flask --app relay read FILE            decrypt a mail of the local mail server with the
                                           development secret key (refused in production)

They are Flask plugin commands (``flask.commands`` entry points in pyproject.toml), not the
app's own: Flask finds them without building the app, and none of them needs it.  Above all
the delivery worker starts with only its own settings (``DeliverySettings``) while staff
keys have expired, catalogs are stale or the theme is missing: reports already confirmed to
victims wait in the outbox, and the web relay's problems must not keep them there.  And
``keys`` can name the key that keeps the relay from starting.
"""

from __future__ import annotations

import os
import signal
import threading
from email import message_from_bytes, policy
from pathlib import Path

import click

from . import logs, openpgp
from .config import DEV, ConfigError, DeliverySettings, is_production, staff_keys_source
from .delivery import deliver_once, run
from .keys import describe, load_staff_keys
from .outbox import Outbox, OutboxUnwritableError
from .problems import Problems
from .smtp import SmtpTarget

DEV_SECRET = DEV / "keys" / "staff.sec.asc"
DEV_PUBLIC = DEV / "keys" / "staff.pub.asc"
DEV_USER_ID = "Safeline Staff (Safeline development key, not for production) <staff@safeline.test>"


@click.command("keys")
def keys_command():
    """List the staff keys the relay encrypts to (or say what is wrong with them)."""
    try:
        keys = load_staff_keys(staff_keys_source())
    except Problems as problems:
        raise problems.exit("relay keys: the relay cannot use these keys:") from None
    for row in describe(keys):
        click.echo(f"{row.fingerprint}  expires {row.expires}  {row.path}")
        for user_id in row.user_ids:
            click.echo(f"    {user_id}")


@click.command("deliver")
@click.option("--once", is_flag=True, help="Try every waiting message once, then stop.")
@click.option("--poll", default=1.0, show_default=True, help="Seconds between looks at the outbox.")
def deliver_command(once: bool, poll: float):
    """Hand the outbox to the mail server; delete each message only after a 250."""
    logs.configure()
    try:
        settings = DeliverySettings.from_env()
        outbox = Outbox(settings.outbox)
        try:
            outbox.check_writable()  # it deletes what was sent, and cleans tmp/
        except OutboxUnwritableError as error:
            raise ConfigError([f"RELAY_OUTBOX: {error}"]) from None
    except Problems as problems:
        raise problems.exit("relay deliver: refusing to start:") from None
    target = SmtpTarget.from_url(settings.smtp_url)
    if once:
        counts = deliver_once(outbox, target, settings.mail_from, list(settings.mail_to))
        click.echo(f"sent {counts.sent}, deferred {counts.deferred}, refused {counts.refused}, waiting {counts.waiting}")
        return
    stop = threading.Event()
    for name in ("SIGTERM", "SIGINT"):
        signal.signal(getattr(signal, name), lambda *_: stop.set())
    click.echo(f"delivering from {settings.outbox} to {target} (Ctrl+C to stop)")
    run(outbox, target, settings.mail_from, list(settings.mail_to), stop=stop, poll_seconds=poll)


def make_dev_keys(production: bool) -> bool:
    """Make the development key pair once; ``False`` when it was there already."""
    if production:
        raise click.ClickException("development keys are refused when RELAY_ENV=production")
    if DEV_PUBLIC.exists() and DEV_SECRET.exists():
        return False
    pair = openpgp.generate_key(DEV_USER_ID)
    DEV_PUBLIC.parent.mkdir(parents=True, exist_ok=True)
    DEV_PUBLIC.parent.chmod(0o700)
    DEV_SECRET.write_bytes(pair.secret)
    DEV_SECRET.chmod(0o600)
    DEV_PUBLIC.write_bytes(pair.public)
    return True


@click.command("dev-keys")
def dev_keys_command():
    """Make var/dev/keys/staff.{pub,sec}.asc for the local stack."""
    made = make_dev_keys(is_production())
    click.echo(f"{'made' if made else 'kept'} {DEV_PUBLIC} and {DEV_SECRET}")


@click.command("read")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=DEV_SECRET, show_default=True)
def read_command(files, key_file):
    """Decrypt mails of the local mail server and print the report they carry."""
    if is_production():
        raise click.ClickException("refused when RELAY_ENV=production: staff read reports in their mail client")
    secret = key_file.read_bytes()
    for file in files:
        click.echo(f"== {file.name}")
        click.echo(readable(file.read_bytes(), secret))


def readable(mail: bytes, secret: bytes) -> str:
    """The protected subject, the text part and the JSON part of a sealed mail."""
    outer = message_from_bytes(mail, policy=policy.default)
    armored = next(part for part in outer.iter_parts() if part.get_content_type() == "application/octet-stream")
    inner = message_from_bytes(openpgp.decrypt(armored.get_payload(decode=True), secret), policy=policy.default)
    lines = [f"Subject: {inner['Subject']}", ""]
    for part in inner.walk():
        if part.get_content_type() in ("text/plain", "application/json"):
            lines.append(part.get_content() if part.get_content_type() == "text/plain" else part.get_payload(decode=True).decode("utf-8"))
    return "\n".join(lines)
