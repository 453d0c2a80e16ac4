"""Commands under ``flask --app relay``: keys, deliver and status.

    flask --app relay keys                 list the staff keys: fingerprint, user IDs, expiry
    flask --app relay deliver [--once]     the delivery worker (retries with backoff)
    flask --app relay status [--prometheus [FILE]]
                                           what needs watching, on one screen or as metrics;
                                           exit status 1 when a person is needed (relay.status)

They are Flask plugin commands (``flask.commands`` entry points in pyproject.toml), not the
app's own: Flask finds them without building the app, and neither needs it.  Above all
the delivery worker starts with only its own settings (``DeliverySettings``) while staff
keys have expired, catalogs are stale or the theme is missing: reports already confirmed to
victims wait in the outbox, and the web relay's problems must not keep them there.  And
``keys`` can name the key that keeps the relay from starting, as ``status`` says what is wrong
while the relay is down.  The tools of local
development (its mail server, the reader of that mail, the development key pair) are not
part of the relay: they are in devtools/.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import click

from . import logs
from .config import DeliverySettings, staff_keys_source, writable_outbox
from .delivery import DeliveryState, deliver_once, run, state_path
from .keys import describe, load_staff_keys
from .problems import Problems
from .smtp import SmtpTarget


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
        outbox = writable_outbox(settings.outbox)
    except Problems as problems:
        raise problems.exit("relay deliver: refusing to start:") from None
    target = SmtpTarget.from_url(settings.smtp_url)
    state = DeliveryState(state_path())  # for `flask --app relay status`; never a reason not to start
    if once:
        counts = deliver_once(outbox, target, settings.mail_from, list(settings.mail_to), state=state)
        click.echo(f"sent {counts.sent}, deferred {counts.deferred}, refused {counts.refused}, waiting {counts.waiting}")
        return
    stop = threading.Event()
    for name in ("SIGTERM", "SIGINT"):
        signal.signal(getattr(signal, name), lambda *_: stop.set())
    click.echo(f"delivering from {settings.outbox} to {target} (Ctrl+C to stop)")
    run(outbox, target, settings.mail_from, list(settings.mail_to), stop=stop, poll_seconds=poll, state=state)


@click.command("status")
@click.option("--prometheus", "prometheus", is_flag=False, flag_value="-", default=None, metavar="[FILE]",
              help="Print the metrics (Prometheus text format) instead, or write them to FILE atomically.")
def status_command(prometheus: str | None):
    """What needs watching: outbox, delivery, staff keys, Redis, the site's ceiling, the published site.

    Exit status 1 when a line needs a person (marked !), 2 when FILE cannot be written.
    """
    from .status import collect, write_metrics  # here: `keys` and `deliver` need none of it

    status = collect()
    if prometheus is None:
        click.echo(status.screen(), nl=False)
    elif prometheus == "-":
        click.echo(status.exposition(), nl=False)
    else:
        try:
            write_metrics(Path(prometheus), status.exposition())
        except OSError as error:
            click.echo(f"relay status: cannot write {prometheus} ({error.strerror or type(error).__name__})",
                       err=True)
            sys.exit(2)
    sys.exit(1 if status.needs_person else 0)
