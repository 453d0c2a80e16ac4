"""The staff kit's fixtures, all defined in tests/support/staffkit.py: GnuPG homes of two staff
members (``staff_gnupg``), the relay-made mailbox (``relay_corpus``, ``relay_maildir``) and an
initialised staff folder (``staff_home``)."""

from tests.support.staffkit import relay_corpus, relay_maildir, staff_gnupg, staff_home  # noqa: F401
