"""The tests' fixtures, all defined in tests/support/ (one module per domain) and registered here.

pytest reads ``pytest_plugins`` only in this, the root conftest.py; a test module uses a fixture
by naming it, and imports helpers from tests.support (never a fixture, never ``conftest``).
"""

pytest_plugins = [
    "tests.support.site",
    "tests.support.keys",
    "tests.support.gnupg",
    "tests.support.relay_app",
    "tests.support.mail",
    "tests.support.redis_server",
    "tests.support.browser",
    "tests.support.dovecot",
    "tests.support.staff_keyring",
]
