"""What goes wrong in ways a staff member can fix: one exception, one line of explanation.

Every module raises ``StaffError`` (or a subclass) for a problem of setup or input (no store
yet, the wrong key, an unreachable mailbox, an unknown reference), with a message that says
what to do. The command line prints it as one line and exits 1; the web interface shows it on
a page. Anything else is a bug, and shows as one.
"""


class StaffError(Exception):
    """A problem the staff member can fix; the message says how, in one line."""
