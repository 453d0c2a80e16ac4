"""Production build: the development settings plus what only the public site needs."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pelicanconf import *  # noqa: E402,F403

OUTPUT_PATH = str(ROOT / "output")  # noqa: F405
DELETE_OUTPUT_DIRECTORY = True
