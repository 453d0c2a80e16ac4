"""The outbox's promises as the kernel sees them (strace): durable, private, never followed.

"Confirmed means stored" holds across a power cut only if the message's bytes reach the disk
before its name does, and its name before put() returns: fsync of the file, rename, fsync of the
folder, in that order. Nothing left on disk after a normal run shows that order, so these tests
read the system calls themselves (tests/support/syscalls.py).
"""

from __future__ import annotations

import os
import re

import pytest

from tests.support.syscalls import Call, run_with_fault, trace

PROGRAM = r"""
from relay.outbox import Outbox
box = Outbox("box")
mark("first-put"); box.put(b"one", "m1")
mark("put"); path = box.put(b"two", "m2")
mark("claim")
with box.claim(path) as claim:
    assert claim.data == b"two"
mark("remove"); box.remove(path)
mark("probe"); box.check_writable()
crlf = box.put(b"Message-ID: <crlf@x>\r\nSubject: s\r\n\r\n" + b"x" * 2_000_000, "crlf")
lf = box.put(b"Message-ID: <lf@x>\nSubject: s\n\n" + b"x" * 2_000_000, "lf")
mark("message-id"); assert (box.message_id(crlf), box.message_id(lf)) == ("<crlf@x>", "<lf@x>")
mark("end")
"""


@pytest.fixture(scope="module")
def calls(tmp_path_factory) -> dict[str, list[Call]]:
    folder = tmp_path_factory.mktemp("outbox-syscalls")
    return trace(PROGRAM, folder)


def in_order(calls: list[Call], *patterns: str) -> None:
    """Each pattern matches a call (``name args = result``) later than the one before."""
    lines = [f"{call.name} {call.args} = {call.result}" for call in calls]
    at = 0
    for pattern in patterns:
        while at < len(lines) and not re.fullmatch(pattern, lines[at]):
            at += 1
        assert at < len(lines), f"no call {pattern!r} after the ones before it in:\n" + "\n".join(lines)
        at += 1


TEMPORARY = r'"box/tmp/{name}\.\d+\.[0-9a-f]{{8}}"'
# O_EXCL: never write into a file someone else made; 0600: readable by the relay's user only,
# from the first byte; O_CLOEXEC: no child process inherits the descriptor.
CREATE = r"openat AT_FDCWD<.*>, {temporary}, O_WRONLY\|O_CREAT\|O_EXCL\|O_CLOEXEC, 0600 = \d+<.*>"
SYNC_FILE = r"fsync \d+<.*/box/tmp/{name}\.\d+\.[0-9a-f]{{8}}> = 0"
CLOSE_FILE = r"close \d+<.*/box/tmp/{name}\.\d+\.[0-9a-f]{{8}}> = 0"
SYNC_FOLDER = r"fsync \d+<.*/{folder}> = 0"
OPEN_FOLDER = r'openat AT_FDCWD<.*>, "{folder}", O_RDONLY\|O_CLOEXEC\|O_DIRECTORY = \d+<.*>'


def writes(name: str) -> list[str]:
    """A message written as put() must: ``name`` a pattern of its final name."""
    temporary = TEMPORARY.format(name=name)
    return [CREATE.format(temporary=temporary), SYNC_FILE.format(name=name), CLOSE_FILE.format(name=name),
            rf'rename {temporary}, "box/{name}" = 0',
            OPEN_FOLDER.format(folder="box"), SYNC_FOLDER.format(folder="box")]


def test_put_syncs_the_bytes_before_the_name_and_the_name_before_it_returns(calls):
    in_order(calls["put"], *writes("m2"))


def test_new_folders_are_private_from_the_start_and_their_names_durable(calls):
    in_order(calls["first-put"],
             r'mkdir "box", 0700 = 0', r'chmod "box", 0700 = 0',
             OPEN_FOLDER.format(folder="."), SYNC_FOLDER.format(folder="[^/>]+"),
             r'mkdir "box/tmp", 0700 = 0', r'chmod "box/tmp", 0700 = 0',
             OPEN_FOLDER.format(folder="box"), SYNC_FOLDER.format(folder="box"),
             *writes("m1"))


def test_a_claim_follows_no_link_and_holds_the_message_without_waiting(calls):
    in_order(calls["claim"],
             r'openat AT_FDCWD<.*>, "box/m2", O_RDONLY\|O_NOFOLLOW\|O_CLOEXEC = (?P<fd>\d+)<.*/box/m2>',
             r"flock \d+<.*/box/m2>, LOCK_EX\|LOCK_NB = 0")


def test_a_removal_is_durable_before_it_returns(calls):
    in_order(calls["remove"], r'unlink "box/m2" = 0', OPEN_FOLDER.format(folder="box"),
             SYNC_FOLDER.format(folder="box"))


def test_the_start_up_probe_takes_the_path_of_a_real_message(calls):
    probe = r"\.probe-\d+-[0-9a-f]{8}"
    in_order(calls["probe"], *writes(probe), rf'unlink "box/{probe}" = 0', OPEN_FOLDER.format(folder="box"),
             SYNC_FOLDER.format(folder="box"))


def test_the_message_id_is_read_from_the_header_block_not_the_whole_file(calls):
    # Delivery reads the Message-ID of every waiting message on each pass: a few kilobytes
    # each, not the 64 KiB the header block may take at most, nor the megabytes of the message.
    for name in ("crlf", "lf"):
        read = sum(int(call.result) for call in calls["message-id"]
                   if call.name == "read" and f"/box/{name}>" in call.args)
        assert 0 < read <= 16 * 1024, (name, read)


def test_a_message_whose_name_may_not_be_durable_is_taken_back(tmp_path):
    """The fsync of the folder after the rename fails (a disk error, made real by strace): put()
    raises, so the reporter is told nothing was received, and the message must not be sent
    either (tests/relay/test_outbox.py has the other failures of put)."""
    from relay.outbox import Outbox

    Outbox(tmp_path / "box").check_writable()  # the folders exist: put's only fsyncs are its own two
    program = r"""
from relay.outbox import Outbox
box = Outbox("box")
mark("put")
try:
    box.put(b"message", "m1")
except OSError as error:
    print("raised", error.errno)
mark("end")
"""
    calls = trace(program, tmp_path, inject="fsync:error=EIO:when=2")
    in_order(calls["put"], *writes("m1")[:5], r"fsync \d+<.*/box> = -1 EIO .*", r'unlink "box/m1" = 0')
    assert sorted(path.name for path in (tmp_path / "box").iterdir()) == ["tmp"]
    assert list((tmp_path / "box" / "tmp").iterdir()) == []


def test_a_start_up_probe_that_cannot_be_renamed_leaves_nothing(tmp_path):
    program = r"""
from relay.outbox import Outbox, OutboxUnwritableError
box = Outbox("box")
mark("probe")
try:
    box.check_writable()
except OutboxUnwritableError as error:
    print(error)
mark("end")
"""
    calls = trace(program, tmp_path, inject="rename:error=EIO:when=1")
    probe = r"\.probe-\d+-[0-9a-f]{8}"
    temporary = TEMPORARY.format(name=probe)
    in_order(calls["probe"], rf"rename {temporary}, .* = -1 EIO .*", rf"unlink {temporary} = 0")
    assert sorted(path.name for path in (tmp_path / "box").iterdir()) == ["tmp"]
    assert list((tmp_path / "box" / "tmp").iterdir()) == []


def test_a_message_gone_between_listing_and_looking_hides_no_other(tmp_path):
    """Another worker delivers a message between the outbox's listing and its look at that
    message (the kernel says ENOENT for that one file): the other messages still count."""
    from relay.outbox import Outbox

    box = Outbox(tmp_path / "box")
    for name in ("a", "b", "c", "d"):
        box.put(name.encode(), name)
    first = next(entry.name for entry in os.scandir(box.folder) if entry.name != "tmp")  # the listing's order
    program = f"""
from relay.outbox import Outbox
box = Outbox({str(box.folder)!r})
print(" ".join(sorted(path.name for path in box.pending())), box.size())
"""
    shown = run_with_fault(program, tmp_path, calls="newfstatat,statx,lstat", error="ENOENT", path=box.folder / first)
    others = sorted({"a", "b", "c", "d"} - {first})
    assert shown == f"{' '.join(others)} 3\n"


def test_a_leftover_gone_between_listing_and_looking_stops_no_cleaning(tmp_path):
    from relay.outbox import Outbox

    box = Outbox(tmp_path / "box")
    box.check_writable()
    for name in ("a", "b", "c"):
        (box.tmp / name).write_bytes(b"half")
        os.utime(box.tmp / name, (1_000_000_000, 1_000_000_000))
    first = next(entry.name for entry in os.scandir(box.tmp))
    program = f"""
from relay.outbox import Outbox
print(Outbox({str(box.folder)!r}).clean_tmp())
"""
    shown = run_with_fault(program, tmp_path, calls="newfstatat,statx,stat", error="ENOENT", path=box.tmp / first)
    assert shown == "2\n"
    assert [path.name for path in box.tmp.iterdir()] == [first]
