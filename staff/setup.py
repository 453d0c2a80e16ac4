"""``safeline-staff init``: make the staff member's folder; ``open_store``: open its case store.

    safeline-staff init --key FINGERPRINT [--gnupg-home DIR]    (the key in their GnuPG)
    safeline-staff init --key-file FILE                          (an armored secret key file)

``init`` draws a random 256-bit key for the store, encrypts it to the staff member's own key
(``store-key.asc``), decrypts it again at once (so a key that cannot decrypt is found now, not
after the first import), writes ``config.json`` and creates the empty encrypted store. It never
overwrites a store key: that would lose every case. Opening the store later needs exactly
what decrypting the mail needs: that same key.
"""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path

from .home import Config, Home
from .openpgp import PASSPHRASE_ENV, Identity, KeyFileIdentity, NotForThisKey, OpenPGPError, GnuPGIdentity, \
    identity_of, passphrase_from_env, short
from .problems import StaffError

KEY_BYTES = 32
# What store-key.asc holds once decrypted: this line, then the key in hex.
KEY_HEADER = b"safeline-staff store key 1\n"

PASSPHRASE_HELP = (f"A key file's passphrase is asked for, or taken from ${PASSPHRASE_ENV} (for tests and "
                   "scripts); with GnuPG, its pinentry asks, or the variable goes to it by loopback pinentry "
                   "(allow-loopback-pinentry in gpg-agent.conf).")


def register(commands) -> None:
    parser = commands.add_parser(
        "init", help="make the staff kit's folder: its config, the store's key and the empty store",
        description="Make the staff kit's folder: config.json, store-key.asc (a random key for the store, "
                    "encrypted to your own OpenPGP key) and the empty encrypted case store. " + PASSPHRASE_HELP)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--key", metavar="FINGERPRINT", help="your key in GnuPG (gpg --list-secret-keys)")
    which.add_argument("--key-file", type=Path, metavar="FILE", help="an armored secret key file instead of GnuPG")
    parser.add_argument("--gnupg-home", type=Path, metavar="DIR", help="GnuPG's folder, when not the default")
    parser.add_argument("--imap", metavar="URL",
                        help="the mailbox, imaps://user@host[:port]/FOLDER, kept for `import`")
    parser.set_defaults(func=run_init)


def run_init(args: argparse.Namespace) -> int:
    home = Home(args.home)
    if args.key_file and args.gnupg_home:
        raise StaffError("--gnupg-home goes with --key, not with --key-file")
    config = Config(key=None, key_file=None, gnupg_home=None, imap=args.imap)
    if args.key_file:
        config.key_file = str(args.key_file.resolve())
    else:
        config.key = args.key
        config.gnupg_home = str(args.gnupg_home.resolve()) if args.gnupg_home else None
    identity = init(home, config)
    print(f"made {home.folder}: the store's key is encrypted to {short(identity.fingerprint)}; "
          "next: safeline-staff import --maildir DIR (or --imap URL)")
    return 0


def init(home: Home, config: Config, *, passphrase: str | None = None) -> Identity:
    """Make ``home`` for ``config``'s key; the identity it was made for."""
    if home.store_key_file.exists():
        raise StaffError(f"{home.store_key_file} exists already: the kit is set up there (a new key would lose "
                         "every case; to start over, move that folder away first)")
    if home.store_file.exists():
        raise StaffError(f"{home.store_file} exists without its key: move it away first")
    identity = _identity(config, passphrase)
    key = secrets.token_bytes(KEY_BYTES)
    sealed = identity.encrypt_to_self(KEY_HEADER + key.hex().encode("ascii") + b"\n")
    if _unseal(identity, sealed, home.store_key_file) != key:
        raise StaffError("your key did not give back what was encrypted to it: check it with gpg")
    from .store import Store

    home.folder.mkdir(parents=True, exist_ok=True)
    made = []
    try:
        with open(home.store_key_file, "xb") as file:  # never over an existing key
            made.append(home.store_key_file)
            file.write(sealed)
        home.save_config(config)
        made.append(home.config_file)
        Store.create(home.store_file, key).close()
    except BaseException:
        for path in made:
            path.unlink(missing_ok=True)
        raise
    return identity


def _identity(config: Config, passphrase: str | None) -> Identity:
    passphrase = passphrase if passphrase is not None else passphrase_from_env()
    if config.key_file:
        import getpass

        return KeyFileIdentity.load(config.key_file, passphrase,
                                    ask=lambda: getpass.getpass(f"Passphrase of {config.key_file}: "))
    return GnuPGIdentity(config.key, gnupg_home=config.gnupg_home, passphrase=passphrase)


def store_key(home: Home, identity: Identity) -> bytes:
    """The store's key, decrypted from ``store-key.asc`` with ``identity``."""
    try:
        sealed = home.store_key_file.read_bytes()
    except FileNotFoundError:
        raise StaffError(f"no {home.store_key_file}: run `safeline-staff init` first") from None
    return _unseal(identity, sealed, home.store_key_file)


def _unseal(identity: Identity, sealed: bytes, path: Path) -> bytes:
    try:
        clear = identity.decrypt(sealed)
    except NotForThisKey:
        raise StaffError(f"{path} is not encrypted to your key {short(identity.fingerprint)}: "
                         "use the key the kit was set up with (config.json)") from None
    except OpenPGPError:
        raise StaffError(f"{path} is damaged: restore it from your backup") from None
    if not clear.startswith(KEY_HEADER):
        raise StaffError(f"{path} does not hold a store key: restore it from your backup")
    try:
        key = bytes.fromhex(clear[len(KEY_HEADER):].decode("ascii").strip())
    except ValueError:
        raise StaffError(f"{path} does not hold a store key: restore it from your backup") from None
    if len(key) != KEY_BYTES:
        raise StaffError(f"{path} does not hold a store key: restore it from your backup")
    return key


def open_store(home: Home, *, passphrase: str | None = None, identity: Identity | None = None):
    """The case store of ``home``, opened with the key in ``store-key.asc`` (decrypted with
    ``identity``, default: the one ``home``'s config names, unlocked with ``passphrase``); its
    ``author`` is that identity's fingerprint."""
    from .store import Store

    identity = identity or identity_of(home, passphrase=passphrase)
    key = store_key(home, identity)
    if not home.store_file.exists():
        raise StaffError(f"no store {home.store_file}: restore it from your backup, or move the folder away "
                         "and run `safeline-staff init` again")
    store = Store.open(home.store_file, key)
    try:
        store.author = identity.fingerprint  # the author of the changes made here (events)
    except BaseException:
        store.close()
        raise
    return store
