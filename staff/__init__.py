"""The staff kit: Safeline's reports as cases, on a staff member's own computer.

A second application of this repository, installed on the computer of a member of staff, never
on the server. It reads the staff mailbox (a Maildir folder or IMAP), decrypts each relay mail
with the staff member's own OpenPGP key (their GnuPG, or an armored secret key file), and keeps
the clear text only in its case store: one SQLite file encrypted at rest (SQLite3 Multiple
Ciphers), whose key is a random key in a small file encrypted to that same OpenPGP key.

Its only interface to the relay is the mail: the PGP/MIME message and its JSON part, whose
format is ``safeline.record``. It imports nothing from ``relay/``.

The data flow, one module each:

    mailbox (Maildir, IMAP) → message (PGP/MIME → decrypted record) → importer → store
    store → casework, removal (the command line) and web (the local interface: serve)

Every change staff make to a case is an event (``events``): the store applies it and keeps it
to send to the team; the team's events are applied the same way, in any order, to the same
state.

It uses no POSIX-only call (no fcntl, os.fork, signals beyond SIGINT, or file modes as the
only protection), so that it runs on macOS and Windows; it is tested on Linux.
"""
