"""One hand-off of a sealed message to the mail server named by an ``smtp://`` URL.

``send`` returns only once the server has answered 250 to the message data; everything else
is a ``TemporaryDeliveryError`` or a ``PermanentDeliveryError``.  Error messages carry the
stage and the reply code only: never the password, the message, the addresses, or the
server's reply text (which often quotes an address).
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

SCHEMES = {"smtp": ("plain", 25), "smtp+starttls": ("starttls", 587), "smtps": ("tls", 465)}
_ENHANCED_STATUS = re.compile(rb"\s*([245]\.\d{1,3}\.\d{1,3})\b")
_LINE_END = re.compile(rb"\r\n|\r|\n")


class DeliveryError(Exception):
    """The server did not take the message; it stays in the outbox."""

    def __init__(self, reason: str, *, code: int | None = None):
        super().__init__(reason)
        self.code = code


class TemporaryDeliveryError(DeliveryError):
    """Worth retrying soon: the server was unreachable, timed out, failed TLS or said 4xx."""


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

    def send(self, message: bytes, *, mail_from: str, rcpt_to: list[str], timeout: float = 30) -> None:
        """Hand ``message`` over; return only after the server answered 250 to its data."""
        if not rcpt_to:
            raise ValueError("send: no recipients")
        # SMTP requires CRLF; smtplib does not convert bytes, and a bare LF would make its
        # dot-stuffing disagree with the server's.
        data = _LINE_END.sub(b"\r\n", message)
        stage = "connect"
        try:
            connection = self._connect(timeout)
        except (ssl.SSLError, ssl.CertificateError) as error:
            raise TemporaryDeliveryError(f"TLS failed at connect ({type(error).__name__})") from None
        except smtplib.SMTPResponseException as error:
            raise _refused(error.smtp_code, stage, error.smtp_error) from None
        except (OSError, smtplib.SMTPException) as error:
            raise TemporaryDeliveryError(f"connection failed ({_describe(error)})") from None
        accepted = False
        try:
            stage = "EHLO"
            connection.ehlo_or_helo_if_needed()
            if self.security == "starttls":
                stage = "STARTTLS"
                connection.starttls(context=ssl.create_default_context())
                connection.ehlo()
            if self.user is not None:
                stage = "AUTH"
                connection.login(self.user, self.password)
            stage = "MAIL"
            options = []
            if connection.has_extn("size"):
                options.append(f"SIZE={len(data)}")
            if not data.isascii() and connection.has_extn("8bitmime"):
                options.append("BODY=8BITMIME")
            _expect(connection.mail(mail_from, options), (250,), stage)
            stage = "RCPT"
            # All recipients or none: after a partial DATA a retry would duplicate the
            # message for those who already have it.
            for recipient in rcpt_to:
                _expect(connection.rcpt(recipient), (250, 251), stage)
            stage = "DATA"
            _expect(connection.data(data), (250,), stage)
            accepted = True
        except DeliveryError:
            raise
        except smtplib.SMTPNotSupportedError:
            if stage == "STARTTLS":
                raise TemporaryDeliveryError("TLS failed: server does not offer STARTTLS") from None
            raise PermanentDeliveryError(f"server does not support {stage}") from None
        except smtplib.SMTPResponseException as error:
            raise _refused(error.smtp_code, stage, error.smtp_error) from None
        except (ssl.SSLError, ssl.CertificateError) as error:
            raise TemporaryDeliveryError(f"TLS failed at {stage} ({type(error).__name__})") from None
        except (OSError, smtplib.SMTPException) as error:
            raise TemporaryDeliveryError(f"connection lost at {stage} ({_describe(error)})") from None
        finally:
            _close(connection, polite=accepted)

    def _connect(self, timeout: float) -> smtplib.SMTP:
        if self.security == "tls":
            return smtplib.SMTP_SSL(self.host, self.port, local_hostname=self.helo, timeout=timeout,
                                    context=ssl.create_default_context())
        return smtplib.SMTP(self.host, self.port, local_hostname=self.helo, timeout=timeout)


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
    # smtplib reports a read timeout as SMTPServerDisconnected raised from the TimeoutError.
    if isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):
        return "timed out"
    name = type(error).__name__
    return name if not getattr(error, "strerror", None) else f"{name}: {error.strerror}"


def _close(connection: smtplib.SMTP, *, polite: bool) -> None:
    # After a 250 the message is the server's; a failing QUIT changes nothing.
    try:
        if polite:
            connection.quit()
    except (OSError, smtplib.SMTPException):
        pass
    finally:
        connection.close()
