"""The outbox on a real filesystem: durable, atomic, private, and shared safely by workers."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from relay.outbox import Outbox, OutboxFullError, OutboxUnwritableError, _lock, message_id_of
from tests.support.folder_events import FolderEvents
from tests.support.mail import message_id, sealed_message

ROOT = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_put_stores_the_exact_bytes_privately(outbox):
    message = sealed_message("SL-AAAA-0001")
    path = outbox.put(message, "20261128T120102Z-SL-AAAA-0001.eml")
    assert path == outbox.folder / "20261128T120102Z-SL-AAAA-0001.eml"
    assert path.read_bytes() == message
    assert mode(path) == 0o600
    assert mode(outbox.folder) == 0o700
    assert mode(outbox.tmp) == 0o700
    assert list(outbox.tmp.iterdir()) == []
    assert outbox.pending() == [path]


def test_put_creates_missing_folders(tmp_path):
    box = Outbox(tmp_path / "var" / "spool" / "outbox")
    path = box.put(b"x\r\n", "one.eml")
    assert path.read_bytes() == b"x\r\n"
    assert mode(box.folder) == 0o700


def test_put_makes_tmp_in_a_folder_that_exists_without_it(tmp_path):
    """An operator may make the outbox folder (with its owner and mode) and nothing in it."""
    (tmp_path / "outbox").mkdir()
    box = Outbox(tmp_path / "outbox")
    box.put(b"x\r\n", "one.eml")
    assert mode(box.tmp) == 0o700 and box.pending() == [box.folder / "one.eml"]


def test_put_never_replaces_a_waiting_message(outbox):
    first = outbox.put(b"first\r\n", "same.eml")
    with pytest.raises(FileExistsError):
        outbox.put(b"second\r\n", "same.eml")
    assert first.read_bytes() == b"first\r\n"
    assert list(outbox.tmp.iterdir()) == []


@pytest.mark.parametrize("name", ["", "tmp", ".hidden", "../escape.eml", "a/b.eml", "-x.eml", "a b.eml"])
def test_put_takes_only_plain_file_names(outbox, name):
    with pytest.raises(ValueError):
        outbox.put(b"x", name)
    assert outbox.pending() == []


def test_tmp_is_refused_as_a_name_however_it_was_made(outbox):
    made = "".join(["t", "mp"])  # built at run time, not the interned literal
    with pytest.raises(ValueError):
        outbox.put(b"x", made)
    assert outbox.pending() == []


def test_pending_is_oldest_first_and_ignores_tmp_and_dot_files(outbox):
    newer = outbox.put(b"1", "a-newer.eml")
    older = outbox.put(b"2", "b-older.eml")
    os.utime(older, (1_000_000, 1_000_000))  # by time, not by name
    (outbox.tmp / "half-written").write_bytes(b"...")
    (outbox.folder / ".probe-1").write_bytes(b"")
    assert outbox.pending() == [older, newer]


def test_a_reader_never_sees_a_partial_message(outbox):
    """A message enters the folder only whole, by one rename: nothing is ever created or
    written under the folder's own names, so whoever lists it sees complete files or none.
    The kernel's record of the folder (inotify) says so for every write, not only for those
    a reader thread happens to catch."""
    messages = {f"m{n:02}.eml": sealed_message(f"SL-PART-{n:04}", size=256 * 1024) for n in range(16)}
    events = FolderEvents(outbox.folder)
    for name, data in messages.items():
        outbox.put(data, name)
    seen = events.read()
    assert seen == [("moved-to", name) for name in messages], seen
    assert {path.name: path.read_bytes() for path in outbox.pending()} == messages


def test_a_write_failing_half_way_leaves_nothing(outbox):
    """A full disk mid-write, made real with RLIMIT_FSIZE (which binds root too), in a child process."""
    script = textwrap.dedent(f"""
        import resource, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from relay.outbox import Outbox
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() then fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        try:
            Outbox({str(outbox.folder)!r}).put(b"x" * 100_000, "big.eml")
        except OSError as error:
            print("OSError", error.errno)
        else:
            print("stored")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert result.stdout.startswith("OSError"), result.stdout + result.stderr
    assert outbox.pending() == []
    assert list(outbox.tmp.iterdir()) == []


def test_put_raises_oserror_when_tmp_is_not_a_folder(outbox):
    """Root ignores file modes, so the folder is made unusable by shape: ``tmp`` becomes a file."""
    outbox.tmp.rmdir()
    outbox.tmp.write_bytes(b"")
    with pytest.raises(OSError):
        outbox.put(sealed_message("SL-FAIL-0001"), "fail.eml")
    assert outbox.pending() == []
    with pytest.raises(OutboxUnwritableError, match="is not writable"):
        outbox.check_writable()


def test_put_raises_oserror_when_the_folder_cannot_exist(tmp_path):
    """An outbox path below a regular file can never be created, not even by root."""
    (tmp_path / "a-file").write_bytes(b"")
    box = Outbox(tmp_path / "a-file" / "outbox")
    with pytest.raises(OSError):
        box.put(b"x", "one.eml")
    with pytest.raises(OutboxUnwritableError) as raised:
        box.check_writable()
    assert isinstance(raised.value, OSError)
    assert str(box.folder) in str(raised.value)
    assert "\n" not in str(raised.value)


def test_put_raises_oserror_in_a_read_only_folder(outbox):
    """A folder the relay's user may not write to.  Root ignores file modes through its
    capabilities, so as root (CI's user) the writer runs without any (setpriv), as the
    relay's own unprivileged user would."""
    os.chmod(outbox.tmp, 0o500)
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from relay.outbox import Outbox, OutboxUnwritableError
        box = Outbox({str(outbox.folder)!r})
        try:
            box.put(b"x", "one.eml")
        except OSError as error:
            print("put:", type(error).__name__)
        try:
            box.check_writable()
        except OutboxUnwritableError:
            print("check: unwritable")
    """)
    unprivileged = ["setpriv", "--bounding-set=-all", "--inh-caps=-all"] if os.geteuid() == 0 else []
    try:
        result = subprocess.run([*unprivileged, sys.executable, "-c", script], capture_output=True, text=True,
                                timeout=30)
    finally:
        os.chmod(outbox.tmp, 0o700)
    assert result.stdout == "put: PermissionError\ncheck: unwritable\n", result.stdout + result.stderr
    assert outbox.pending() == []
    assert list(outbox.tmp.iterdir()) == []


def test_check_writable_creates_the_folder_and_leaves_no_trace(tmp_path):
    box = Outbox(tmp_path / "new" / "outbox")
    box.check_writable()
    assert mode(box.folder) == 0o700
    assert sorted(path.name for path in box.folder.iterdir()) == ["tmp"]
    assert list(box.tmp.iterdir()) == []


def test_stale_temporary_files_are_cleaned(outbox):
    stale = outbox.tmp / "crashed-write"
    fresh = outbox.tmp / "being-written"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    assert outbox.clean_tmp() == 1
    assert not stale.exists() and fresh.exists()

    os.utime(fresh, (two_hours_ago, two_hours_ago))
    outbox.check_writable()  # at startup too
    assert list(outbox.tmp.iterdir()) == []


@pytest.mark.parametrize("outbox_on", ["disk", "shm"])
def test_tmp_on_another_filesystem_is_refused_at_start_by_name(tmp_path, outbox_on):
    """rename() from another filesystem fails (EXDEV): the check at start says why, in words;
    whichever of the two filesystems has the higher device number."""
    shm = Path(os.path.realpath("/dev/shm"))
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on a filesystem of its own")
    on_shm = shm / f"outbox-{os.getpid()}-{tmp_path.name}"
    on_shm.mkdir(mode=0o700)
    try:
        folder, elsewhere = (tmp_path / "outbox", on_shm) if outbox_on == "disk" else (on_shm / "outbox", tmp_path / "tmp")
        folder.mkdir(mode=0o700)
        elsewhere.mkdir(mode=0o700, exist_ok=True)
        box = Outbox(folder)
        box.tmp.symlink_to(elsewhere)
        with pytest.raises(OutboxUnwritableError) as raised:
            box.check_writable()
        assert str(raised.value) == (f"outbox {box.folder} is not writable:"
                                     " tmp/ is on another filesystem, so rename() cannot be atomic")
        assert list(elsewhere.iterdir()) == []
        # Had it started anyway, a put would fail at its rename and take its temporary file back.
        with pytest.raises(OSError) as raised:
            box.put(b"x\r\n", "one.eml")
        assert raised.value.errno == errno.EXDEV
        assert list(elsewhere.iterdir()) == [] and box.pending() == []
    finally:
        shutil.rmtree(on_shm)


def test_a_missing_folder_holds_nothing_and_has_nothing_to_clean(tmp_path):
    box = Outbox(tmp_path / "never-made")
    assert box.pending() == [] and box.size() == 0
    assert box.clean_tmp() == 0
    with box.claim(box.folder / "gone.eml") as claim:
        assert claim is None
    assert not box.folder.exists()


def test_only_our_temporary_files_older_than_an_hour_are_stale(outbox):
    leftover = outbox.tmp / "crashed-write"
    leftover.write_bytes(b"half")
    written = 1_800_000_000.0
    os.utime(leftover, (written, written))
    assert outbox.clean_tmp(now=written + 3600) == 0  # an hour exactly: still kept
    assert outbox.clean_tmp(now=written + 3600.25) == 1
    assert not leftover.exists()
    # The age is the caller's to choose.
    leftover.write_bytes(b"half")
    os.utime(leftover, (written, written))
    assert outbox.clean_tmp(max_age=10, now=written + 10) == 0
    assert outbox.clean_tmp(max_age=10, now=written + 10.25) == 1
    # A file from the future (the clock was set back since) may be a write still going on.
    leftover.write_bytes(b"half")
    os.utime(leftover, (written, written))
    assert outbox.clean_tmp(now=written - 7200) == 0
    # Only what put() writes is removed: a link in tmp/ is none of ours, whatever it points at.
    target = outbox.folder.parent / "not-ours"
    target.write_bytes(b"")
    os.utime(target, (written, written))
    os.symlink(target, outbox.tmp / "a-link")
    assert outbox.clean_tmp(now=written + 7200) == 1
    assert [path.name for path in outbox.tmp.iterdir()] == ["a-link"]


def test_message_id_is_read_from_the_first_64_kib_of_a_file_and_no_further(outbox):
    line = b"Message-ID: <edge@safeline.test>\r\n"

    def padded(size: int) -> bytes:
        """Header lines of exactly ``size`` bytes before the Message-ID."""
        lines, left = [], size
        while left:
            take = min(998, left)  # a header line as mail allows it; each ends in CRLF
            if left - take in (1, 2, 3, 4, 5, 6, 7, 8, 9):  # too short for one more line
                take -= 10
            lines.append(b"X-Pad: " + b"a" * (take - 9) + b"\r\n")
            left -= take
        return b"".join(lines)

    limit = 64 * 1024  # HEADER_LIMIT, as its comment promises
    inside = outbox.put(padded(limit - len(line)) + line + b"\r\nbody\r\n", "inside.eml")
    assert inside.read_bytes().index(line) + len(line) == limit
    assert outbox.message_id(inside) == "<edge@safeline.test>"
    beyond = outbox.put(padded(limit) + line + b"\r\nbody\r\n", "beyond.eml")
    assert outbox.message_id(beyond) is None


def test_a_link_in_the_folder_is_no_waiting_message(outbox):
    """Only regular files are messages: a symbolic link (put there by hand, or by an attacker
    who can write to the folder) is neither counted nor offered for sending."""
    real = outbox.put(b"x\r\n", "real.eml")
    os.symlink(real, outbox.folder / "link.eml")
    assert outbox.pending() == [real] and outbox.size() == 3


def test_message_id_is_read_from_the_header_block(outbox):
    path = outbox.put(sealed_message("SL-MSID-0001", size=2_000_000), "m.eml")
    assert outbox.message_id(path) == message_id("SL-MSID-0001")

    folded = outbox.put(b"Subject: x\r\nmessage-id:\r\n <folded@safeline.test>\r\n\r\nMessage-ID: <b@x>\r\n", "f.eml")
    assert outbox.message_id(folded) == "<folded@safeline.test>"

    headers_only = outbox.put(b"Subject: x\r\nMessage-ID: <headers-only@x>\r\n", "h.eml")  # no blank line, no body
    assert outbox.message_id(headers_only) == "<headers-only@x>"

    missing = outbox.put(b"Subject: x\r\n\r\nMessage-ID: <in-the-body@x>\r\n", "n.eml")
    assert outbox.message_id(missing) is None
    assert message_id_of(b"Message-ID: <lf@x>\nSubject: y\n\nbody\n") == "<lf@x>"
    assert message_id_of(b"Message-ID: <no-end@x>") == "<no-end@x>"  # headers alone, not even a line end
    assert message_id_of(b"\r\n\r\nMessage-ID: <body@x>\r\n") is None  # no headers at all


def test_a_claimed_message_cannot_be_claimed_again(outbox):
    path = outbox.put(b"x\r\n", "one.eml")
    with outbox.claim(path) as first:
        assert first is not None and first.data == b"x\r\n" and first.name == "one.eml"
        with outbox.claim(path) as second:
            assert second is None
    with outbox.claim(path) as again:
        assert again is not None


def test_a_claim_held_by_another_process_is_respected(outbox):
    path = outbox.put(b"x\r\n", "one.eml")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys\n"
         f"fd = os.open({str(path)!r}, os.O_RDONLY)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\n"
         "print('locked', flush=True)\n"
         "sys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        with outbox.claim(path) as claim:
            assert claim is None
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    with outbox.claim(path) as claim:
        assert claim is not None


def test_a_message_sent_and_removed_by_another_worker_is_not_claimed(outbox):
    """Worker B opened the file, then A sent and removed it: B's lock must not count."""
    path = outbox.put(b"x\r\n", "one.eml")
    fd = os.open(path, os.O_RDONLY)  # B, before the race
    try:
        with outbox.claim(path) as claim:  # A
            assert claim is not None
            outbox.remove(path)
        assert _lock(fd, path) is None
    finally:
        os.close(fd)

    fd = os.open(outbox.put(b"y\r\n", "two.eml"), os.O_RDONLY)
    try:
        outbox.remove(outbox.folder / "two.eml")
        outbox.put(b"z\r\n", "two.eml")  # same name, another message: B's descriptor is stale
        assert _lock(fd, outbox.folder / "two.eml") is None
    finally:
        os.close(fd)

    # Moved away rather than deleted (an operator's mv), so the old file still has a name, and
    # another file took its name: whether that one's inode number is lower or higher.
    older = outbox.put(b"v\r\n", "older.eml")
    newer = outbox.put(b"w\r\n", "newer.eml")
    low, high = sorted((older, newer), key=lambda path: os.stat(path).st_ino)
    for held, replacement in ((low, high), (high, low)):
        name = outbox.folder / "three.eml"
        os.rename(held, name)
        fd = os.open(name, os.O_RDONLY)
        try:
            os.rename(name, outbox.folder / ".set-aside")
            os.rename(replacement, name)
            assert os.fstat(fd).st_nlink == 1
            assert _lock(fd, name) is None
            # Nor does a link at the name that leads to the file held.
            os.rename(name, replacement)
            os.symlink(".set-aside", name)
            assert _lock(fd, name) is None
            os.unlink(name)
            os.rename(outbox.folder / ".set-aside", held)
        finally:
            os.close(fd)


def test_remove_deletes_the_file(outbox):
    path = outbox.put(b"x\r\n", "one.eml")
    outbox.remove(path)
    assert outbox.pending() == []
    with pytest.raises(FileNotFoundError):
        outbox.remove(path)


# -- the cap -------------------------------------------------------------------------------------

def test_a_capped_outbox_refuses_what_would_pass_its_cap_and_keeps_nothing_of_it(tmp_path):
    box = Outbox(tmp_path / "outbox", max_bytes=10_000)
    box.check_writable()
    box.put(b"a" * 4000, "one.eml")
    box.put(b"b" * 4000, "two.eml")  # its own additions count at once, without listing again
    with pytest.raises(OutboxFullError) as raised:
        box.put(b"c" * 4000, "three.eml")
    assert str(raised.value) == "[Errno 28] outbox holds 8,000 bytes, its cap is 10,000"
    assert sorted(path.name for path in box.pending()) == ["one.eml", "two.eml"]
    assert list(box.tmp.iterdir()) == []
    assert box.size() == 8000
    box.put(b"c" * 2000, "three.eml")  # up to the cap exactly
    assert box.size() == 10_000


def test_near_its_cap_the_outbox_sees_what_others_stored_within_a_second(tmp_path):
    box = Outbox(tmp_path / "outbox", max_bytes=10_000)
    other = Outbox(tmp_path / "outbox")  # another worker of the relay
    box.check_writable()
    box.put(b"a" * 6000, "one.eml")
    other.put(b"b" * 3000, "two.eml")
    time.sleep(1.1)
    with pytest.raises(OutboxFullError):
        box.put(b"c" * 2000, "three.eml")
    (tmp_path / "outbox" / "one.eml").unlink()  # delivered
    time.sleep(1.1)
    box.put(b"c" * 2000, "three.eml")


class SteppedClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 10.0  # seconds since boot, as time.monotonic() counts them

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("cap, held, ttl", [(10_000, 4999, 30.0), (10_000, 5000, 1.0),
                                           (10_001, 5000, 30.0), (10_001, 5001, 1.0)])
def test_a_measure_is_trusted_30_seconds_below_half_the_cap_and_1_second_from_half_on(tmp_path, cap, held, ttl):
    """USAGE_TTL_FAR and USAGE_TTL_NEAR: meanwhile what another worker stored is not seen (the
    module says why that is safe), and the first put after that time measures again."""
    clock = SteppedClock()
    box = Outbox(tmp_path / "outbox", max_bytes=cap, clock=clock)
    other = Outbox(tmp_path / "outbox")
    box.check_writable()
    box.put(b"a" * held, "one.eml")  # measured empty, then counts its own bytes
    other.put(b"b" * 5500, "two.eml")  # the disk now holds more than the cap
    clock.now += ttl / 2
    box.put(b"", "half.eml")
    clock.now += ttl / 2
    box.put(b"", "three.eml")  # the measure is exactly ttl old: still trusted
    clock.now += 0.001
    with pytest.raises(OutboxFullError):
        box.put(b"", "four.eml")
    assert box.size() == held + 5500
