"""What the local mail server received, decrypted with the development secret key.

    python -m devtools.mailbox [--key FILE] [MAIL ...]     (./run read-mail)

Without MAIL, every mail in var/dev/mail/, where ./run serve's mail server stores them.  Each
shows its protected subject, its text part and its JSON part; the files stay ciphertext, as
staff receive them.  Refused when RELAY_ENV=production: staff read reports in their mail client.
"""

from __future__ import annotations

import argparse
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from devtools.keys import DEV_SECRET, RefusedInProduction
from relay import openpgp
from relay.config import DEV, is_production
from safeline.site import ROOT

MAILBOX = DEV / "mail"


def received(folder: Path = MAILBOX) -> list[Path]:
    """The mails in ``folder``, by name: the order the server stored them in."""
    return sorted(folder.glob("*.eml"))


def unseal(mail: bytes, secret: bytes) -> EmailMessage:
    """The message inside a sealed mail (PGP/MIME), decrypted with the armored ``secret`` key."""
    outer = message_from_bytes(mail, policy=policy.default)
    armored = next(part for part in outer.iter_parts() if part.get_content_type() == "application/octet-stream")
    return message_from_bytes(openpgp.decrypt(armored.get_payload(decode=True), secret), policy=policy.default)


def readable(mail: bytes, secret: bytes) -> str:
    """The protected subject, the text part and the JSON part of a sealed mail."""
    inner = unseal(mail, secret)
    lines = [f"Subject: {inner['Subject']}", ""]
    for part in inner.walk():
        if part.get_content_type() == "text/plain":
            lines.append(part.get_content())
        elif part.get_content_type() == "application/json":
            lines.append(part.get_payload(decode=True).decode("utf-8"))
    return "\n".join(lines)


def read(files: list[Path], key: Path = DEV_SECRET) -> None:
    """Print each mail of ``files``, decrypted with the secret key in ``key``."""
    if is_production():
        raise RefusedInProduction("refused when RELAY_ENV=production: staff read reports in their mail client")
    secret = key.read_bytes()
    for file in files:
        print(f"== {file.name}")
        print(readable(file.read_bytes(), secret))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.mailbox", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, metavar="MAIL",
                        help=f"mails to read (default: every mail in {MAILBOX.relative_to(ROOT)}/)")
    parser.add_argument("--key", type=Path, default=DEV_SECRET,
                        help=f"the secret key (default: {DEV_SECRET.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    for file in args.files:
        if not file.is_file():
            parser.error(f"no file {file}")
    files = args.files or received()
    if not files:
        print(f"no mail in {MAILBOX.relative_to(ROOT)}/ yet")
        return
    if not args.key.is_file():
        parser.error(f"no key {args.key} (./run serve makes the development key pair)")
    try:
        read(files, args.key)
    except RefusedInProduction as refusal:
        parser.exit(1, f"{parser.prog}: {refusal}\n")


if __name__ == "__main__":
    main()
