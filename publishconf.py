"""Production build: the development settings plus what only the public site needs."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pelicanconf import *  # noqa: E402,F403

import os  # noqa: E402

OUTPUT_PATH = str(ROOT / "output")  # noqa: F405
# The public address, for hreflang alternates; override with SITE_ORIGIN=https://… when it moves.
SITE_ORIGIN = os.environ.get("SITE_ORIGIN", "https://www.safe-line.jp").rstrip("/")
DELETE_OUTPUT_DIRECTORY = True
# The address staff write from, on the privacy page: the relay's RELAY_CONTACT_ADDRESS.  No
# default: a public site that named the development address would send people's trust astray.
CONTACT_ADDRESS = os.environ.get("SAFELINE_CONTACT_ADDRESS", "").strip()
if not CONTACT_ADDRESS or CONTACT_ADDRESS == "contact@safeline.test" or "@" not in CONTACT_ADDRESS:
    raise SystemExit("SAFELINE_CONTACT_ADDRESS: set it to the address staff write to reporters from "
                     "(the relay's RELAY_CONTACT_ADDRESS) before building the public site")
