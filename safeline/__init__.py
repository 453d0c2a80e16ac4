"""What the static site and the relay share: the site's own rules (``safeline.site``).

It imports neither Pelican nor Flask, so the build, the relay, tasks.py and the tests can all
import it.
"""
