"""``safeline-staff init``: make the staff member's folder; ``open_store``: open its case store.

    safeline-staff init --key FINGERPRINT [--gnupg-home DIR]    (the key in their GnuPG)
    safeline-staff init --key-file FILE                          (an armored secret key file)
        [--imap URL] [--imap-ca FILE] [--staff-keys PATH] [--events URL_OR_DIR]
    safeline-staff settings [NAME [VALUE]]

``init`` draws a random 256-bit key for the store, encrypts it to the staff member's own key
(``store-key.asc``), decrypts it again at once (so a key that cannot decrypt is found now, not
after the first import), writes ``config.json`` and creates the empty encrypted store. It never
overwrites a store key: that would lose every case. Opening the store later needs exactly
what decrypting the mail needs: that same key. The team's settings (``--staff-keys``,
``--events``, ``--imap-ca``) may be given to init, checked before anything is made, or set
later with ``settings``.

``settings`` shows every setting of ``config.json`` (``staff.home.Config``: there is no secret
in it, and an address that holds a password anyway is shown without it), one ``NAME = VALUE``
a line; ``settings NAME`` shows one; ``settings NAME VALUE`` sets one (an empty VALUE unsets a
text setting, or gives back the default of ``rdap_bootstrap``), checked as the kit would use
it: a number within the bounds ``Config.from_json`` checks (``recheck_days`` 1 to 365, …),
the staff keys readable (``staff.team``), the events folder's and the mailbox's addresses well
formed, a file or folder that exists (kept as an absolute path). What is wrong is said in one
line naming the setting and what to give, and nothing is changed. ``key`` and ``key_file``
are not set there: the store's key is encrypted to that key (``init`` again, in a new folder).
"""

from __future__ import annotations

import argparse
import json
import secrets
from dataclasses import asdict, fields
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .home import NUMBER_SETTINGS, Config, Home
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
    parser.add_argument("--imap-ca", type=Path, metavar="FILE",
                        help="a CA certificate (PEM) to trust for the IMAP server instead of the system's")
    parser.add_argument("--staff-keys", type=Path, metavar="PATH",
                        help="the file or folder of every staff member's public key (the relay's RELAY_STAFF_KEYS)")
    parser.add_argument("--events", metavar="URL_OR_DIR",
                        help="the team's events folder: imaps://user@host[:port]/FOLDER (or a local folder)")
    parser.set_defaults(func=run_init)

    parser = commands.add_parser(
        "settings", help="show the settings, or set one",
        description="Show every setting of config.json (no secret is kept there), or one, or set one: "
                    "`settings recheck_days 14`. An empty value unsets a text setting. The value is checked "
                    "as the kit would use it; nothing is changed when it is wrong. key and key_file are "
                    "set by init only.")
    parser.add_argument("name", nargs="?", metavar="NAME", help="one setting: " + ", ".join(SETTINGS))
    parser.add_argument("value", nargs="?", metavar="VALUE", help="its new value")
    parser.set_defaults(func=run_settings)


def run_init(args: argparse.Namespace) -> int:
    home = Home(args.home)
    if args.key_file and args.gnupg_home:
        raise StaffError("--gnupg-home goes with --key, not with --key-file")
    config = Config(key=None, key_file=None, gnupg_home=None, imap=args.imap)
    # The team's settings are checked before any key is used or file made.
    for name, value in (("imap_ca", args.imap_ca), ("staff_keys", args.staff_keys), ("events", args.events)):
        if value is not None:
            setattr(config, name, checked_setting(name, str(value)))
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


# -- settings ---------------------------------------------------------------------------------

SETTINGS = tuple(field.name for field in fields(Config))
SET_BY_INIT = ("key", "key_file")


def run_settings(args: argparse.Namespace) -> int:
    home = Home(args.home)
    config = home.config()
    if args.name is None:
        for name in SETTINGS:
            print(f"{name} = {shown(getattr(config, name))}")
        return 0
    name = args.name
    if name not in SETTINGS:
        raise StaffError(f"no setting {name!r}: the settings are {', '.join(SETTINGS)}")
    if args.value is None:
        print(f"{name} = {shown(getattr(config, name))}")
        return 0
    before = getattr(config, name)
    changed = set_setting(config, name, args.value)
    home.save_config(changed)
    print(f"{name} = {shown(getattr(changed, name))} (was {shown(before)})")
    return 0


def set_setting(config: Config, name: str, value: str) -> Config:
    """A copy of ``config`` with ``name`` set to ``value`` (as typed), checked: ``StaffError``
    in one line naming the setting and what to give when it cannot be used."""
    if name not in SETTINGS:
        raise StaffError(f"no setting {name!r}: the settings are {', '.join(SETTINGS)}")
    if name in SET_BY_INIT:
        raise StaffError(f"{name} is set by `safeline-staff init` only: the store's key is encrypted to that key "
                         "(a new key needs a new kit folder)")
    data = asdict(config)
    data[name] = checked_setting(name, value)
    try:
        return Config.from_json(json.dumps(data))
    except ValueError as error:
        raise StaffError(f"{error}; nothing changed") from None


def checked_setting(name: str, value: str):
    """The value to keep for setting ``name`` typed as ``value``; ``StaffError`` (one line) when
    it cannot be used. Numbers' bounds are ``Config.from_json``'s (``set_setting``)."""
    value = value.strip()
    if name in NUMBER_SETTINGS:
        least, most = NUMBER_SETTINGS[name]
        try:
            return int(value)
        except ValueError:
            raise StaffError(f'"{name}" must be a whole number from {least} to {most}; nothing changed') from None
    if not value:
        return Config().rdap_bootstrap if name == "rdap_bootstrap" else None
    if name in ("imap_ca", "key_file", "gnupg_home", "staff_keys"):
        path = Path(value).expanduser()
        if not path.exists():
            raise StaffError(f'"{name}": no such file or folder {path}; nothing changed')
        path = path.resolve()
        if name == "imap_ca":
            _check_ca(path)
        elif name == "staff_keys":
            from .team import Team

            Team.load(path)  # TeamError: one line naming the file
        elif name == "gnupg_home" and not path.is_dir():
            raise StaffError(f'"gnupg_home" must be a folder (GnuPG\'s home), not {path}; nothing changed')
        return str(path)
    if name == "events":
        from .eventfolder import check_where

        check_where(value)
        if value.startswith(("imaps:", "imap:")):
            return value
        return str(Path(value).expanduser().resolve())
    if name == "imap":
        from .imap import parse_address

        parse_address(value)
        return value
    if name == "rdap_bootstrap":
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise StaffError('"rdap_bootstrap" must be an https:// address (IANA\'s: https://data.iana.org/rdap/); '
                             "nothing changed")
        return value if value.endswith("/") else value + "/"
    return value


def _check_ca(path: Path) -> None:
    import ssl

    if not path.is_file():
        raise StaffError(f'"imap_ca" must be a CA certificate file (PEM), not the folder {path}; nothing changed')
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, ValueError, OSError):
        raise StaffError(f'"imap_ca": {path} is not a PEM certificate file; give the CA\'s certificate; '
                         "nothing changed") from None


def shown(value) -> str:
    """A setting as ``settings`` shows it: never a password (an address holding one, as a hand-
    edited config.json might, is shown without it)."""
    if value is None:
        return "(not set)"
    if isinstance(value, str) and "://" in value:
        parts = urlsplit(value)
        if parts.password is not None:
            host = parts.netloc.rpartition("@")[2]
            return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
    return str(value)
