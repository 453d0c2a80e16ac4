"""The staff mailbox over IMAP: every message of one folder, read-only, as ``Mail``.

``ImapSource("imaps://USER@HOST[:PORT][/FOLDER]")`` logs in over TLS (port 993 unless given;
folder INBOX unless given) and reads the folder with EXAMINE and ``BODY.PEEK[]``: the import
never marks a message read, moves or deletes one; the mails stay in the mailbox until the staff
member deletes them there. ``len(source)`` is the number of messages (for the progress bar);
iterating yields ``Mail(ident=UID, data=the message's bytes)`` in UID order, fetched 100 at a
time (one round trip per batch, not per message).

The certificate is verified against the system's authorities, or only against ``ca_file``
(``--imap-ca FILE``: a mail server with its own authority, or a test's self-signed one).
Verification is never switched off. Plain ``imap://`` is accepted only to this computer
(127.0.0.1, ::1, localhost), where nothing crosses a network: elsewhere it would send the
password in clear text.

The password is never in the address, on the command line, on disk or in a log. It comes
from the system keyring (service ``safeline-staff``, user name ``USER@HOST``; store it once
with ``keyring set safeline-staff USER@HOST``), or else ``password_prompt`` asks for it
(``getpass``: not echoed). Every expected failure (a wrong password, a refused connection, an
untrusted certificate, a timeout, a missing folder) is one ``StaffError`` line.

``ImapMailbox`` is the one that changes a folder, for the mailbox clean-up only
(staff/retention.py, after a staff member confirmed): ``message_ids()`` reads each message's
Message-ID header alone (``BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]``, still under EXAMINE), and
``delete(uids)`` then SELECTs the folder, marks exactly those UIDs ``\\Deleted`` (``UID STORE``)
and expunges exactly those (``UID EXPUNGE``, RFC 4315 UIDPLUS). A server without UIDPLUS could
only ``EXPUNGE`` every message marked deleted, someone else's marks included: it is refused,
nothing deleted. So is a folder whose ``UIDVALIDITY`` changed since the listing (its UIDs would
name other messages).
"""

from __future__ import annotations

import getpass
import ipaddress
import logging
import socket
import ssl
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import imapclient
import keyring
import keyring.errors
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from .mailbox import Mail
from .problems import StaffError

# imapclient traces the whole IMAP conversation at DEBUG, fetched messages included (a forged
# clear-text "report" among them): never, even when an application logs DEBUG for itself.
logging.getLogger("imapclient.imaplib").setLevel(logging.INFO)

KEYRING_SERVICE = "safeline-staff"
# One FETCH per this many UIDs: few round trips, a bounded amount of mail in memory at once.
BATCH = 100
TIMEOUT = 30.0
LOOPBACK_NAMES = ("localhost",)


def one_line(text: object) -> str:
    return " ".join(str(text).split())


class ImapError(StaffError):
    """The mailbox cannot be read as asked; the message says what to check, on one line (a
    user or folder name from the address, or a server's words, cannot break it)."""

    def __init__(self, message: str):
        super().__init__(one_line(message))


@dataclass(frozen=True)
class ImapAddress:
    """An ``imaps://`` (or loopback ``imap://``) address, taken apart."""

    user: str
    host: str
    port: int
    folder: str
    tls: bool

    @property
    def account(self) -> str:
        """The keyring's user name for this mailbox."""
        return f"{self.user}@{self.host}"

    @property
    def where(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_address(url: str) -> ImapAddress:
    """``imaps://USER@HOST[:PORT][/FOLDER]`` → ImapAddress; ImapError when it is not one.

    A user name that holds ``@`` (most mail providers' logins) is written ``%40``.
    """
    usage = "write it as imaps://USER@HOST[:PORT][/FOLDER]"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ImapError(f"not an IMAP address ({error}): {usage}") from None
    if parts.scheme not in ("imaps", "imap"):
        scheme = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
        raise ImapError(f"not an IMAP address ({scheme}): {usage}")
    if parts.password is not None:
        # An address travels through shells, histories and config.json: no secret in it.
        raise ImapError("the IMAP address holds a password: remove it; the password comes from the "
                        f"system keyring (keyring set {KEYRING_SERVICE} USER@HOST) or is asked")
    if not parts.username or not parts.hostname:
        raise ImapError(f"the IMAP address needs a user and a host: {usage}")
    if parts.query or parts.fragment:
        raise ImapError(f"the IMAP address has a query or fragment, which mean nothing here: {usage}")
    host = parts.hostname
    tls = parts.scheme == "imaps"
    if not tls and not is_loopback(host):
        raise ImapError(f"imap:// would send the password in clear text to {host}: use imaps://"
                        " (IMAP over TLS); plain IMAP is accepted only to this computer (127.0.0.1, ::1, localhost)")
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return ImapAddress(user=unquote(parts.username), host=host, port=port or (993 if tls else 143),
                       folder=folder, tls=tls)


def keyring_password(service: str, account: str) -> str | None:
    """The password the system keyring holds, or None (no entry, no usable keyring)."""
    try:
        return keyring.get_password(service, account)
    except keyring.errors.KeyringError:
        # No backend on this computer, or a locked one that would not open: ask instead.
        return None


class ImapSource:
    """The messages of one IMAP folder, read-only: ``len()``, iteration as ``Mail``, ``close()``.

    Connects and logs in when made; also a context manager that closes.
    """

    def __init__(self, url: str, *, password_prompt: Callable[[str], str] = getpass.getpass,
                 keyring_service: str | None = KEYRING_SERVICE, ca_file: str | Path | None = None,
                 timeout: float = TIMEOUT, batch: int = BATCH):
        self.address = parse_address(url)
        self.batch = batch
        self._timeout = timeout
        self._client = self._connect(ca_file, timeout)
        try:
            self._login(password_prompt, keyring_service)
            self._uids = self._examine()
        except BaseException:
            self._drop()
            raise

    # -- connecting --------------------------------------------------------------------------

    def _context(self, ca_file: str | Path | None) -> ssl.SSLContext | None:
        if not self.address.tls:
            return None
        if ca_file is not None and not Path(ca_file).is_file():
            raise ImapError(f"no certificate file {ca_file}: give the CA's certificate (PEM) to --imap-ca")
        try:
            # With a CA file, only that authority is trusted; hostname checking stays on.
            return ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else None)
        except ssl.SSLError as error:
            raise ImapError(f"{ca_file} is not a PEM certificate file ({one_line(error.reason or error)}): "
                            "give the CA's certificate to --imap-ca") from None

    def _connect(self, ca_file: str | Path | None, timeout: float) -> imapclient.IMAPClient:
        context = self._context(ca_file)
        try:
            return imapclient.IMAPClient(self.address.host, port=self.address.port, ssl=self.address.tls,
                                         ssl_context=context, timeout=timeout)
        except Exception as error:  # noqa: BLE001 - each kind becomes its own one line below
            raise self._connection_problem(error) from None

    def _connection_problem(self, error: BaseException) -> ImapError:
        """The one line for an expected failure of the connection; anything else (a bug) is raised as it is."""
        where = self.address.where
        if isinstance(error, ssl.SSLCertVerificationError):
            return ImapError(f"the certificate of {where} is not trusted ({one_line(error.verify_message)}): "
                             "check the address, or give the server's CA certificate with --imap-ca FILE")
        if isinstance(error, ssl.SSLError):
            return ImapError(f"TLS with {where} failed ({one_line(error.reason or error)}): "
                             "is this the server's imaps port (usually 993)?")
        if isinstance(error, (TimeoutError, socket.timeout)):
            return ImapError(f"{where} did not answer within {self._timeout:g} s: check the address and the network")
        if isinstance(error, ConnectionRefusedError):
            return ImapError(f"{where} refused the connection: check the host and port of the IMAP address")
        if isinstance(error, socket.gaierror):
            return ImapError(f"unknown host {self.address.host}: check the IMAP address and the network")
        if isinstance(error, (ConnectionError, EOFError)) or (isinstance(error, IMAPClientAbortError)):
            return ImapError(f"{where} closed the connection ({one_line(error) or type(error).__name__}): "
                             "is this the server's imaps port (usually 993)?")
        if isinstance(error, OSError):
            return ImapError(f"cannot reach {where} ({one_line(error.strerror or error)}): "
                             "check the address and the network")
        if isinstance(error, IMAPClientError):
            return ImapError(f"{where} answered in a way this kit does not understand ({one_line(error)[:200]})")
        raise error

    def _reading_problem(self, error: BaseException) -> ImapError:
        """As ``_connection_problem``, for a connection lost in the middle of the mail."""
        if isinstance(error, (TimeoutError, socket.timeout)):
            detail = f"no answer within {self._timeout:g} s"
        elif isinstance(error, (OSError, EOFError, IMAPClientError)):
            detail = one_line(error)[:200] or type(error).__name__
        else:
            raise error
        return ImapError(f"reading {self.address.folder!r} from {self.address.where} failed ({detail}): "
                         "run the import again (what it imported already is skipped)")

    def _login(self, password_prompt: Callable[[str], str], service: str | None) -> None:
        account = self.address.account
        password = keyring_password(service, account) if service else None
        came_from_keyring = password is not None
        if password is None:
            try:
                password = password_prompt(f"IMAP password for {account}: ")
            except EOFError:
                raise ImapError(f"no password for {account}: type it when asked, or store it with "
                                f"`keyring set {service or KEYRING_SERVICE} {account}`") from None
        try:
            self._client.login(self.address.user, password)
        except LoginError:
            # The server's own words may quote what was sent: not shown.
            hint = (f"; the system keyring's entry ({service}, {account}) may be out of date"
                    if came_from_keyring else "")
            raise ImapError(f"{self.address.where} refused the login of {self.address.user}: "
                            f"check the user name and password{hint}") from None
        except Exception as error:  # noqa: BLE001
            raise self._connection_problem(error) from None

    def _examine(self) -> list[int]:
        try:
            info = self._client.select_folder(self.address.folder, readonly=True)
            self.uidvalidity = info.get(b"UIDVALIDITY")
        except IMAPClientAbortError as error:
            raise self._connection_problem(error) from None
        except IMAPClientError:
            raise ImapError(f"no folder {self.address.folder!r} in the mailbox of {self.address.account}: "
                            "check the folder at the end of the IMAP address") from None
        except Exception as error:  # noqa: BLE001
            raise self._connection_problem(error) from None
        try:
            return sorted(self._client.search("ALL"))
        except Exception as error:  # noqa: BLE001
            raise self._connection_problem(error) from None

    # -- reading -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._uids)

    def __iter__(self) -> Iterator[Mail]:
        if self._client is None:
            raise ImapError("the IMAP connection is closed")
        for start in range(0, len(self._uids), self.batch):
            chunk = self._uids[start:start + self.batch]
            try:
                # BODY.PEEK: reading sets no \Seen flag (EXAMINE already forbids it: twice safe).
                answer = self._client.fetch(chunk, ["BODY.PEEK[]"])
            except Exception as error:  # noqa: BLE001
                raise self._reading_problem(error) from None
            for uid in chunk:
                # A message expunged by another client since the search is simply gone.
                if (data := answer.get(uid, {}).get(b"BODY[]")) is not None:
                    yield Mail(ident=str(uid), data=bytes(data))

    # -- ending ------------------------------------------------------------------------------

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001, S110 - the socket may already be closed by the server
            pass

    def close(self) -> None:
        """Log out and close the connection; nothing in the mailbox changed."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:  # noqa: BLE001 - a server gone already: closing is all that is left
            try:
                client.shutdown()
            except Exception:  # noqa: BLE001, S110
                pass

    def __enter__(self) -> ImapSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


HEADER_BATCH = 1000  # Message-ID headers fetched at once (some 100 bytes each)


class ImapMailbox(ImapSource):
    """One folder of the mailbox, to find messages by their Message-ID and delete chosen ones
    (see the module's docstring): ``message_ids()``, ``delete(uids)``, ``close()``. With
    ``missing_ok``, a folder that does not exist (an events folder no kit has written to yet)
    holds no message instead of being an error."""

    def __init__(self, url: str, *, missing_ok: bool = False, **options):
        self._missing_ok = missing_ok
        super().__init__(url, **options)

    def _examine(self) -> list[int]:
        if self._missing_ok:
            try:
                exists = self._client.folder_exists(self.address.folder)
            except Exception as error:  # noqa: BLE001
                raise self._connection_problem(error) from None
            if not exists:
                self.uidvalidity = None
                return []
        return super()._examine()

    def message_ids(self) -> Iterator[tuple[str, str | None]]:
        """(UID, Message-ID as written, or None) of each message of the folder, headers only."""
        from .mailbox import header_message_id

        if self._client is None:
            raise ImapError("the IMAP connection is closed")
        for start in range(0, len(self._uids), HEADER_BATCH):
            chunk = self._uids[start:start + HEADER_BATCH]
            try:
                answer = self._client.fetch(chunk, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
            except Exception as error:  # noqa: BLE001
                raise self._listing_problem(error) from None
            for uid in chunk:
                found = answer.get(uid)
                if found is None:
                    continue  # expunged since the search
                # The answer's key names the part (some servers quote the field's name).
                data = next((value for key, value in found.items()
                             if bytes(key).upper().startswith(b"BODY[HEADER.FIELDS")), b"")
                yield str(uid), header_message_id(bytes(data or b""))

    def _listing_problem(self, error: BaseException) -> ImapError:
        if isinstance(error, (TimeoutError, socket.timeout, OSError, EOFError, IMAPClientError)):
            detail = one_line(error)[:200] or type(error).__name__
            return ImapError(f"reading {self.address.folder!r} from {self.address.where} failed ({detail}): "
                             "nothing was deleted; run it again")
        raise error

    def delete(self, uids: Iterable[str | int]) -> int:
        """Mark the messages ``uids`` deleted and expunge exactly them; how many are gone."""
        client = self._client
        if client is None:
            raise ImapError("the IMAP connection is closed")
        wanted = sorted({int(uid) for uid in uids})
        if not wanted:
            return 0
        folder, where = self.address.folder, self.address.where
        try:
            if not client.has_capability("UIDPLUS"):
                raise ImapError(f"{where} cannot expunge chosen messages only (it lacks UIDPLUS, RFC 4315), and "
                                f"EXPUNGE would also remove messages others marked deleted in {folder!r}: nothing "
                                "deleted; delete them in your mail program")
            info = client.select_folder(folder, readonly=False)
            if info.get(b"UIDVALIDITY") != self.uidvalidity:
                raise ImapError(f"the folder {folder!r} on {where} was made again since it was listed "
                                "(its UIDVALIDITY changed): nothing deleted; run it again")
            gone = 0
            for start in range(0, len(wanted), HEADER_BATCH):
                chunk = wanted[start:start + HEADER_BATCH]
                uid_set = ",".join(str(uid) for uid in chunk)
                # Those still there (another kit or mail program may have deleted some meanwhile).
                present = sorted(set(client.search(["UID", uid_set])) & set(chunk))
                if not present:
                    continue
                client.add_flags(present, [imapclient.DELETED], silent=True)
                client.uid_expunge(present)
                left = set(client.search(["UID", uid_set]))
                gone += len(set(present) - left)
            return gone
        except ImapError:
            raise
        except IMAPClientAbortError as error:
            raise self._deleting_problem(error) from None
        except IMAPClientError as error:
            raise ImapError(f"{where} refused to delete messages in {folder!r} ({one_line(error)[:200]}): "
                            "is the folder read-only for you?") from None
        except Exception as error:  # noqa: BLE001
            raise self._deleting_problem(error) from None

    def _deleting_problem(self, error: BaseException) -> ImapError:
        if isinstance(error, (TimeoutError, socket.timeout, OSError, EOFError, IMAPClientError)):
            detail = one_line(error)[:200] or type(error).__name__
            return ImapError(f"deleting in {self.address.folder!r} on {self.address.where} failed ({detail}): "
                             "run it again to delete what is left")
        raise error

    def __enter__(self) -> ImapMailbox:
        return self
