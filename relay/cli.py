"""Commands under ``flask --app relay``: keys, deliver, and two development helpers.

    flask --app relay keys                 list the staff keys: fingerprint, user IDs, expiry
    flask --app relay deliver [--once]     the delivery worker (retries with backoff)
    flask --app relay dev-keys             make the development key pair (refused in production)
    flask --app relay read FILE            decrypt a mail of the local mail server with the
                                           development secret key (refused in production)
"""

from __future__ import annotations

import signal
import threading
from email import message_from_bytes, policy
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from . import openpgp
from .config import DEV
from .delivery import deliver_once, run
from .keys import describe
from .smtp import SmtpTarget

DEV_SECRET = DEV / "keys" / "staff.sec.asc"
DEV_PUBLIC = DEV / "keys" / "staff.pub.asc"
DEV_USER_ID = "Safeline Staff (Safeline development key, not for production) <staff@safeline.test>"


def register(app) -> None:
    app.cli.add_command(keys_command)
    app.cli.add_command(deliver_command)
    app.cli.add_command(read_command)
    app.cli.add_command(dev_keys_command)


@click.command("keys")
@with_appcontext
def keys_command():
    """List the staff keys the relay encrypts to."""
    for row in describe(current_app.extensions["staff_keys"]):
        click.echo(f"{row.fingerprint}  expires {row.expires}  {row.path}")
        for user_id in row.user_ids:
            click.echo(f"    {user_id}")


@click.command("deliver")
@with_appcontext
@click.option("--once", is_flag=True, help="Try every waiting message once, then stop.")
@click.option("--poll", default=1.0, show_default=True, help="Seconds between looks at the outbox.")
def deliver_command(once: bool, poll: float):
    """Hand the outbox to the mail server; delete each message only after a 250."""
    settings = current_app.config["RELAY_SETTINGS"]
    outbox = current_app.extensions["outbox"]
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
    import os

    made = make_dev_keys(os.environ.get("RELAY_ENV") == "production")
    click.echo(f"{'made' if made else 'kept'} {DEV_PUBLIC} and {DEV_SECRET}")


@click.command("read")
@with_appcontext
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=DEV_SECRET, show_default=True)
def read_command(files, key_file):
    """Decrypt mails of the local mail server and print the report they carry."""
    if current_app.config["RELAY_SETTINGS"].production:
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
