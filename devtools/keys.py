"""The development key pair: the staff key ./run serve encrypts to, with its secret half beside it.

Its user ID carries the relay's development mark (``relay.keys.DEVELOPMENT_MARK``), by which
the relay refuses it when RELAY_ENV=production; the public half is where the relay's
development default of RELAY_STAFF_KEYS looks.
"""

from __future__ import annotations

from pathlib import Path

from relay import openpgp
from relay.config import DEV, DEVELOPMENT_DEFAULTS
from relay.keys import DEVELOPMENT_MARK

DEV_PUBLIC = Path(DEVELOPMENT_DEFAULTS["RELAY_STAFF_KEYS"])
DEV_SECRET = DEV / "keys" / "staff.sec.asc"
DEV_USER_ID = f"Safeline Staff {DEVELOPMENT_MARK}, not for production) <staff@safeline.test>"


class RefusedInProduction(RuntimeError):
    """A development tool was asked to run with RELAY_ENV=production."""


def make_dev_keys(production: bool) -> bool:
    """Make the development key pair once; ``False`` when it was there already."""
    if production:
        raise RefusedInProduction("development keys are refused when RELAY_ENV=production")
    if DEV_PUBLIC.exists() and DEV_SECRET.exists():
        return False
    pair = openpgp.generate_key(DEV_USER_ID)
    DEV_PUBLIC.parent.mkdir(parents=True, exist_ok=True)
    DEV_PUBLIC.parent.chmod(0o700)
    DEV_SECRET.write_bytes(pair.secret)
    DEV_SECRET.chmod(0o600)
    DEV_PUBLIC.write_bytes(pair.public)
    return True
