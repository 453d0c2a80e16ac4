"""Problems that stop the relay: each one line, naming the setting or file and what to do.

They are ordinary exceptions.  A staff key can expire while the relay runs, and the check
that finds it then runs inside a request, where the reporter must get the form back (503),
not a bare error page: an exception outside ``Exception`` (a ``SystemExit``) would pass
every handler.  Only where a process starts (``create_app``, the delivery command) do
problems become an exit, with :meth:`Problems.exit`: the lines, exit status 1, no traceback.
"""

from __future__ import annotations

from collections.abc import Iterable

REFUSAL = "relay: refusing to start:"


class Problems(Exception):
    """One or more problems; ``lines`` has one line each."""

    def __init__(self, lines: Iterable[str]):
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))

    def exit(self, heading: str = REFUSAL) -> SystemExit:
        """The exit for a process that cannot start: raise it where the process starts."""
        return SystemExit("\n".join([heading, *self.lines]))
