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
