"""One hand-off of a sealed message to the mail server named by an ``smtp://`` URL.

``send`` returns only once the server has answered 250 (or 251, 252 ...) to the message data;
everything else is a ``TemporaryDeliveryError`` or a ``PermanentDeliveryError``.  Error messages carry the
stage and the reply code only: never the password, the message, the addresses, or the
server's reply text (which often quotes an address).

Waiting is limited per phase, as RFC 5321 §4.5.3.2 asks, and per message (``Timeouts``).
Every limit covers a whole reply, not each read: a server that trickles a byte every few
seconds is cut off like one that says nothing.  smtplib does the talking; ``_Conversation``
only replaces its socket reads and writes, so that each of them knows how long it may take,
and reads replies of any length (smtplib refuses a line over 8 KB even when it says 250).
"""

from __future__ import annotations

import math
import re
import smtplib
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field, fields
from urllib.parse import unquote, urlsplit

SCHEMES = {"smtp": ("plain", 25), "smtp+starttls": ("starttls", 587), "smtps": ("tls", 465)}
_ENHANCED_STATUS = re.compile(rb"\s*([245]\.\d{1,3}\.\d{1,3})\b")
_LINE_END = re.compile(rb"\r\n|\r|\n")
_DOT_AT_LINE_START = re.compile(rb"(?m)^\.")

QUIT_SECONDS = 10.0  # after a 250 nothing depends on the QUIT: never wait long for it
STOP_POLL_SECONDS = 0.2  # how soon a stop is noticed while waiting for a reply
CHUNK = 64 * 1024  # the data is written in pieces, each one a "data block" of §4.5.3.2.5
KEPT_LINE = 1024  # reply text kept per line (RFC 5321 allows 512); the rest is read and dropped
KEPT_LINES = 100


@dataclass(frozen=True)
class Timeouts:
    """How long one hand-off may wait, in seconds: per phase, and for the whole message.

    The phase limits are RFC 5321 §4.5.3.2's, each covering the whole reply (or, for the
    data, each write).  ``connect`` (TCP) is not in the RFC; 30 s is Postfix's.  The TLS
    handshake of ``smtps://`` and ``STARTTLS``, ``EHLO`` and ``AUTH`` wait as long as
    MAIL and RCPT (``command``).

    ``deadline`` bounds the whole hand-off, so that one slow server conversation cannot
    hold every message queued behind it: it is what the per-phase limits cannot do against
    a server that answers each phase just in time or trickles.  The deadline is split at
    the end of the data, where the duplicate risk begins:

    - before the final dot, everything (connect, greeting, commands, the data) must be done
      within ``deadline - data_end``: past that, the conversation is dropped, which is safe,
      because a server delivers nothing whose data did not end;
    - after the final dot the reply gets its full ``data_end``, whatever the clock says.
      The server may be delivering the message at that very moment: giving up sooner and
      sending it again is how duplicates are made (RFC 5321 §4.5.3.2.6 and RFC 1047), so
      the deadline leaves room for the RFC's ten minutes rather than cutting into them.

    Only when the reply has not come after ``data_end`` either (or the connection drops after
    the final dot) is the message retried, and then the server may have taken it: a report
    must never be lost, so it is sent again, and its fixed Message-ID lets staff recognise
    the second copy.  The error says so, for the log.
    """

    connect: float = 30.0
    greeting: float = 300.0  # §4.5.3.2.1, the 220 greeting
    command: float = 300.0  # §4.5.3.2.2 MAIL and §4.5.3.2.3 RCPT; also EHLO, STARTTLS, AUTH
    data_start: float = 120.0  # §4.5.3.2.4, DATA until 354
    data_block: float = 180.0  # §4.5.3.2.5, each write of the data
    data_end: float = 600.0  # §4.5.3.2.6, the reply to the final dot
    deadline: float = 900.0  # the whole hand-off: 5 minutes to the final dot, 10 for the reply

    def __post_init__(self):
        for limit in fields(self):
            value = getattr(self, limit.name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"Timeouts.{limit.name} must be a positive number of seconds")
        if self.deadline <= self.data_end:
            raise ValueError("Timeouts.deadline must be longer than data_end, to leave time before the final dot")

    @property
    def before_data_end(self) -> float:
        """The time from connecting to the final dot."""
        return self.deadline - self.data_end

    @classmethod
    def uniform(cls, seconds: float) -> Timeouts:
        """One limit for every phase and for everything before the final dot (the old ``timeout=``)."""
        return cls(connect=seconds, greeting=seconds, command=seconds, data_start=seconds, data_block=seconds,
                   data_end=seconds, deadline=2 * seconds)


RFC_5321 = Timeouts()


def timeouts_from(timeouts: Timeouts | None, timeout: float | None) -> Timeouts:
    """The limits a caller asked for: ``timeouts``, or the old single ``timeout``, or RFC 5321's."""
    if timeout is not None:
        if timeouts is not None:
            raise TypeError("give timeouts= or the old timeout=, not both")
        return Timeouts.uniform(timeout)
    return RFC_5321 if timeouts is None else timeouts


class DeliveryError(Exception):
    """The server did not take the message; it stays in the outbox."""

    def __init__(self, reason: str, *, code: int | None = None):
        super().__init__(reason)
        self.code = code


class TemporaryDeliveryError(DeliveryError):
    """Worth retrying soon: the server was unreachable, timed out, failed TLS or said 4xx.

    When it happened after the end of the data (no reply, or the connection dropped), the
    server may have taken the message after all; the reason then says so.
    """


class PermanentDeliveryError(DeliveryError):
    """The server refused with 5xx (or the configuration is wrong): someone has to look."""


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to hand messages over."""

    security: str  # "plain", "starttls" or "tls"
    host: str
    port: int
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    helo: str | None = None  # name given in EHLO; None lets smtplib use the host's FQDN

    @classmethod
    def from_url(cls, url: str, *, helo: str | None = None) -> SmtpTarget:
        """Parse ``smtp[s|+starttls]://[user:password@]host[:port]``; ValueError says what is wrong."""
        # Error messages never repeat the URL: it may hold the password.
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            shown = f"'{scheme}'" if scheme else "none"
            raise ValueError(f"SMTP URL: scheme is {shown}; use smtp://, smtp+starttls:// or smtps://")
        security, default_port = SCHEMES[scheme]
        host = parts.hostname
        if not host:
            raise ValueError("SMTP URL: host is missing")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("SMTP URL: port is not a number from 1 to 65535") from None
        if port == 0:
            raise ValueError("SMTP URL: port is not a number from 1 to 65535")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("SMTP URL: nothing may follow host:port (no path, query or fragment)")
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        if (user is None) != (password is None) or password == "":
            raise ValueError("SMTP URL: credentials need both a user and a password (user:password@)")
        return cls(security, host, port or default_port, user, password, helo)

    def __str__(self) -> str:
        scheme = next(name for name, (security, _) in SCHEMES.items() if security == self.security)
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"  # safe to log: no credentials

    def send(self, message: bytes, *, mail_from: str, rcpt_to: list[str], timeouts: Timeouts | None = None,
             stop: threading.Event | None = None, timeout: float | None = None) -> None:
        """Hand ``message`` over; return only after the server answered 25x to its data.

        ``timeouts`` limits each phase and the whole hand-off (default: RFC 5321's, see
        ``Timeouts``).  Once ``stop`` is set, a conversation still short of the end of the
        data is abandoned at once (nothing can have been delivered); after the end of the
        data the reply is awaited all the same, because leaving then may mean a duplicate.
        ``timeout`` is the old single limit, kept for callers that pass it: ``Timeouts.uniform``.
        """
        if not rcpt_to:
            raise ValueError("send: no recipients")
        limits = timeouts_from(timeouts, timeout)
        # SMTP requires CRLF; a bare LF would make our dot-stuffing disagree with the server's.
        data = _LINE_END.sub(b"\r\n", message)
        context = ssl.create_default_context() if self.security != "plain" else None
        connection = _Conversation(limits, local_hostname=self.helo, stop=stop,
                                   tls=context if self.security == "tls" else None)
        accepted = False
        try:
            try:
                code, text = connection.open(self.host, self.port)
            except (ssl.SSLError, ssl.CertificateError) as error:
                raise TemporaryDeliveryError(f"TLS failed at connect ({type(error).__name__})") from None
            except (_Expired, _Stopped):
                raise
            except (OSError, smtplib.SMTPException) as error:
                raise TemporaryDeliveryError(f"connection failed ({_describe(error)})") from None
            _expect((code, text), (220,), "connect")
            connection.begin("EHLO", limits.command)
            connection.ehlo_or_helo_if_needed()
            if self.security == "starttls":
                connection.begin("STARTTLS", limits.command)
                connection.starttls(context=context)
                connection.begin("EHLO", limits.command)
                connection.ehlo()
            if self.user is not None:
                connection.begin("AUTH", limits.command)
                connection.login(self.user, self.password)
            connection.begin("MAIL", limits.command)
            options = []
            if connection.has_extn("size"):
                options.append(f"SIZE={len(data)}")
            if not data.isascii() and connection.has_extn("8bitmime"):
                options.append("BODY=8BITMIME")
            _expect(connection.mail(mail_from, options), (250,), "MAIL")
            # All recipients or none: after a partial DATA a retry would duplicate the
            # message for those who already have it.
            for recipient in rcpt_to:
                connection.begin("RCPT", limits.command)
                _expect(connection.rcpt(recipient), (250, 251), "RCPT")
            code, text = connection.transfer(data)
            # 25x is "done" about the mail itself (RFC 5321 4.2.1): resending after 251 or 252
            # would be a duplicate.  Other codes (a 221 here is nonsense) are retried: better
            # a possible second copy than a report lost.
            if not 250 <= code < 260:
                raise _refused(code, "DATA", text)
            accepted = True
        except DeliveryError:
            raise
        except _Expired as error:
            if connection.reply_was_positive:
                return  # "250-..." and then nothing more: the server has said yes, the rest is noise
            raise TemporaryDeliveryError(str(error)) from None
        except _Stopped:
            raise TemporaryDeliveryError(f"stopped at {connection.stage}, before the end of the data") from None
        except smtplib.SMTPNotSupportedError:
            stage = connection.stage
            if stage == "STARTTLS":
                raise TemporaryDeliveryError("TLS failed: server does not offer STARTTLS") from None
            raise PermanentDeliveryError(f"server does not support {stage}") from None
        except smtplib.SMTPResponseException as error:
            raise _refused(error.smtp_code, connection.stage, error.smtp_error) from None
        except (ssl.SSLError, ssl.CertificateError) as error:
            raise TemporaryDeliveryError(f"TLS failed at {connection.stage} ({type(error).__name__})") from None
        except (OSError, smtplib.SMTPException) as error:
            if connection.reply_was_positive:
                return
            if connection.data_complete:
                raise TemporaryDeliveryError(
                    f"connection lost after the end of the data, before the reply ({_describe(error)}); "
                    "the server may have taken the message") from None
            raise TemporaryDeliveryError(f"connection lost at {connection.stage} ({_describe(error)})") from None
        finally:
            _close(connection, polite=accepted)


def _expect(reply: tuple[int, bytes], codes: tuple[int, ...], stage: str) -> None:
    code, text = reply
    if code not in codes:
        raise _refused(code, stage, text)


def _refused(code: int, stage: str, text: bytes | str | None) -> DeliveryError:
    # Only the numbers of the reply are kept: its text may quote an address.
    if isinstance(text, str):
        text = text.encode("utf-8", "replace")
    found = _ENHANCED_STATUS.match(text or b"")
    status = f"{code} {found.group(1).decode()}" if found else str(code)
    reason = f"server answered {status} to {stage}"
    if 500 <= code < 600:
        return PermanentDeliveryError(reason, code=code)
    if 400 <= code < 500:
        return TemporaryDeliveryError(reason, code=code)
    # Anything else (e.g. -1 for a reply smtplib could not read) is a broken conversation.
    return TemporaryDeliveryError(f"unexpected reply {code} to {stage}", code=code)


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):
        return "timed out"
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return "closed by the server"
    name = type(error).__name__
    return name if not getattr(error, "strerror", None) else f"{name}: {error.strerror}"


def _close(connection: _Conversation, *, polite: bool) -> None:
    # After a 250 the message is the server's; a failing or slow QUIT changes nothing, so it
    # gets only a short wait.
    try:
        if polite:
            connection.begin("QUIT", min(connection.limits.command, QUIT_SECONDS))
            connection.quit()
    except (OSError, smtplib.SMTPException, _Expired, _Stopped):
        pass
    finally:
        connection.close()


class _Expired(Exception):
    """A limit of the hand-off passed; the text says which, and never quotes the server."""


class _Stopped(Exception):
    """The worker is stopping and the data has not ended: the conversation is dropped."""


class _Conversation(smtplib.SMTP):
    """smtplib's client, with socket reads and writes that keep to ``Timeouts``.

    ``begin(stage, seconds)`` starts a phase; every read and write until the next one gets
    what is left of it, and, until the final dot is written, of ``before_data_end``.  smtplib
    itself only ever touches the socket through ``send`` and ``getreply``, both replaced here.
    """

    def __init__(self, limits: Timeouts, *, local_hostname: str | None, stop: threading.Event | None,
                 tls: ssl.SSLContext | None):
        super().__init__(local_hostname=local_hostname)
        self.limits = limits
        self.stage = "connect"
        self.data_complete = False  # the final dot is written: from here on, a duplicate is possible
        self.reply_was_positive = False  # the reply to the final dot began with 25x
        self._stop = stop
        self._tls = tls
        self._buffer = bytearray()
        self._cutoff = time.monotonic() + limits.before_data_end
        self._seconds = limits.connect
        self._phase_end = time.monotonic() + limits.connect
        self._awaiting_end = False

    def begin(self, stage: str, seconds: float) -> None:
        self.stage = stage
        self._seconds = seconds
        self._phase_end = time.monotonic() + seconds

    def open(self, host: str, port: int) -> tuple[int, bytes]:
        """Connect (and for smtps:// shake hands); return the greeting."""
        self._host = host  # smtplib's STARTTLS checks the certificate against it
        self.begin("connect", self.limits.connect)
        self.sock = self._connect_socket(host, port)
        if self._tls is not None:
            self.begin("TLS", self.limits.command)
            self.sock = self._handshake(self._tls)
        self.begin("greeting", self.limits.greeting)
        return self.getreply()

    def starttls(self, *, context: ssl.SSLContext) -> tuple[int, bytes]:
        # smtplib's own would shake hands on whatever timeout the socket last had.
        self.ehlo_or_helo_if_needed()
        if not self.has_extn("starttls"):
            raise smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server.")
        code, reply = self.docmd("STARTTLS")
        if code != 220:
            raise smtplib.SMTPResponseException(code, reply)
        # Anything that came with the 220 was sent in clear before TLS: believing it would let
        # a man in the middle inject replies.
        self._buffer.clear()
        self.sock = self._handshake(context)
        self.file = self.helo_resp = self.ehlo_resp = None
        self.esmtp_features = {}
        self.does_esmtp = False
        return code, reply

    def transfer(self, data: bytes) -> tuple[int, bytes]:
        """DATA, the message and the final dot; return the reply to the dot.

        A refusal of DATA itself raises: nothing was sent then, whatever its code.
        """
        self.begin("DATA", self.limits.data_start)
        self.putcmd("data")
        code, text = self.getreply()
        if code != 354:
            raise _refused(code, "DATA", text)
        wire = _DOT_AT_LINE_START.sub(b"..", data)
        if not wire.endswith(b"\r\n"):
            wire += b"\r\n"
        wire += b".\r\n"
        view = memoryview(wire)
        while view:
            # §4.5.3.2.5: the limit is per write, so a large message on a slow link is not cut
            # off while it moves; the deadline still bounds the whole.
            self.begin("data transfer", self.limits.data_block)
            written = self._write_some(view[:CHUNK])
            view = view[written:]
        self.data_complete = True
        self.begin("end of data", self.limits.data_end)
        self._awaiting_end = True
        return self.getreply()

    def send(self, s) -> None:
        if isinstance(s, str):
            s = s.encode(self.command_encoding)
        if self.sock is None:
            raise smtplib.SMTPServerDisconnected("please run connect() first")
        view = memoryview(s)
        while view:
            view = view[self._write_some(view):]

    def getreply(self) -> tuple[int, bytes]:
        # As smtplib's, but a line of any length is read (its text is cut, its code kept), and
        # the phase limit covers the whole reply, however slowly it comes.
        lines = []
        while True:
            line = self._read_line()
            if len(lines) < KEPT_LINES:
                lines.append(line[4:].strip(b" \t\r\n"))
            code = line[:3]
            if len(code) < 3 or not code.isdigit():
                return -1, b"\n".join(lines)
            if self._awaiting_end and code.startswith(b"25"):
                self.reply_was_positive = True
            if line[3:4] != b"-":
                return int(code), b"\n".join(lines)

    def close(self) -> None:
        self._buffer.clear()
        super().close()

    # -- the socket, within the limits ---------------------------------------------------

    def _remaining(self) -> float:
        end = self._phase_end if self.data_complete else min(self._phase_end, self._cutoff)
        left = end - time.monotonic()
        if left <= 0:
            raise self._expired()
        return left

    def _expired(self) -> _Expired:
        if self.data_complete and self._awaiting_end:
            return _Expired(f"no reply to the end of the data within {self._seconds:g} s; "
                            "the server may have taken the message")
        if not self.data_complete and self._cutoff <= self._phase_end:
            return _Expired(f"timed out at {self.stage} "
                            f"(deadline: {self.limits.before_data_end:g} s to the end of the data)")
        return _Expired(f"timed out at {self.stage} ({self._seconds:g} s)")

    def _check_stop(self) -> None:
        if self._stop is not None and self._stop.is_set() and not self.data_complete:
            raise _Stopped()

    def _connect_socket(self, host: str, port: int) -> socket.socket:
        failure: OSError | None = None
        for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
            self._check_stop()
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(self._remaining())
                sock.connect(address)
                return sock
            except TimeoutError:
                sock.close()
                raise self._expired() from None
            except OSError as error:
                sock.close()
                failure = error
            except BaseException:
                sock.close()
                raise
        raise failure if failure is not None else OSError("no address to connect to")

    def _handshake(self, context: ssl.SSLContext) -> ssl.SSLSocket:
        self.sock.settimeout(self._remaining())
        try:
            return context.wrap_socket(self.sock, server_hostname=self._host)
        except TimeoutError:
            raise self._expired() from None

    def _write_some(self, view: memoryview) -> int:
        self._check_stop()
        self.sock.settimeout(self._remaining())
        try:
            return self.sock.send(view)
        except TimeoutError:
            raise self._expired() from None

    def _recv(self) -> bytes:
        while True:
            self._check_stop()
            wait = self._remaining()
            if self._stop is not None and not self.data_complete:
                wait = min(wait, STOP_POLL_SECONDS)
            self.sock.settimeout(wait)
            try:
                return self.sock.recv(CHUNK)
            except TimeoutError:
                continue  # _remaining() and _check_stop() decide whether to go on waiting

    def _read_line(self) -> bytes:
        kept = bytearray()
        while True:
            end = self._buffer.find(b"\n")
            piece = self._buffer if end < 0 else self._buffer[:end]
            kept += piece[:max(0, KEPT_LINE - len(kept))]
            if end >= 0:
                del self._buffer[:end + 1]
                return bytes(kept).rstrip(b"\r")
            self._buffer.clear()
            if self.sock is None:
                raise smtplib.SMTPServerDisconnected("not connected")
            chunk = self._recv()
            if not chunk:
                self.close()
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            self._buffer += chunk
