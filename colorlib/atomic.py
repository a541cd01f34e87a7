"""Writing a file atomically: a temporary file made exclusively beside it, renamed onto it, never left behind.

Every file colorlib writes (checkpoints, JSON, CSV, cache entries, colorized photos, the report's
notebooks and pages) goes through :func:`write_atomically`, text and bytes through :func:`write_file`,
and the report's folder is replaced whole (:func:`staging_folder`, :func:`replace_folder`). The
temporary file is created with ``O_CREAT | O_EXCL`` under a name no other process can have chosen
(:func:`tempfile.mkstemp`), so a file or link planted at a predictable name is never followed. It
is removed on every way out: an exception, Ctrl-C, and SIGTERM (turned into an exception while the
write lasts, then the process dies of it as it would have). One left by a process killed outright
(SIGKILL, a power cut) carries that process's id and is removed by the next write beside it.
"""
import contextlib
import errno
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path

# A new file gets the permissions the user's umask gives (mkstemp alone would make it 0600).
_UMASK = os.umask(0o022)
os.umask(_UMASK)
# Where hard links cannot be made (FAT, some network shares), a write that must not replace
# falls back to checking, then renaming.
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK}


def write_atomically(path, write, replace=True):
    """Write a file by ``write(binary_file)`` into a unique temporary file beside it, then rename.

    Parameters
    ----------
    path : path-like
        The file to write; its folder is made if needed.
    write : callable(file)
        Writes the content into the open binary file.
    replace : bool
        Replace a file already at ``path``. False refuses one, even one another process wrote
        a moment ago (the new file is linked into place, which fails where a name exists).

    Raises
    ------
    FileExistsError
        With ``replace=False``, when ``path`` exists; it is kept as it was.
    OSError
        When the disk is full, naming the file; the file it would replace is kept as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    with sigterm_as_exception():
        _write_new(path, write, replace)


def write_file(path, content):
    """Write ``content`` (bytes, or text as UTF-8) to ``path`` with :func:`write_atomically`.

    A file or link already at ``path`` is replaced, never written through.
    """
    data = content.encode() if isinstance(content, str) else content
    write_atomically(path, lambda file: file.write(data))


def output_folder(path, option="the output folder"):
    """``path`` as a Path when it is a folder or does not exist yet (it is made on the first write).

    Raises
    ------
    NotADirectoryError
        When ``path`` is a file (or a link to one), naming ``option``: found before any work is done,
        not when the first output is written.
    """
    path = Path(path)
    if os.path.lexists(path) and not path.is_dir():
        raise NotADirectoryError(f"{option} {path} is a file, not a folder; name a folder (it is made if missing)")
    return path


def staging_folder(path):
    """A new, empty folder beside ``path`` to build its next content in (:func:`replace_folder`).

    Made exclusively under a unique hidden name (:func:`tempfile.mkdtemp`), with the permissions
    the umask gives a new folder.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".staging"))
    os.chmod(staging, 0o777 & ~_UMASK)
    return staging


def replace_folder(staging, path):
    """Put the folder ``staging`` in the place of ``path``, whose old content (a folder or a link) is then removed.

    Two renames within one folder: the old one is renamed aside, the new one onto its name. A
    reader never sees a mix of the two, only (for that instant) no folder at all.
    """
    path = Path(path)
    old = path.with_name(f".{path.name}.{os.getpid()}.old") if os.path.lexists(path) else None
    if old is not None:
        os.replace(path, old)
    os.replace(staging, path)
    if old is not None and old.is_symlink():
        old.unlink()
    elif old is not None:
        shutil.rmtree(old)


def _write_new(path, write, replace):
    """:func:`write_atomically`'s write: the temporary file is removed whatever happens."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())  # the bytes reach the disk before the rename: a crash keeps old or new
        os.chmod(tmp, 0o666 & ~_UMASK)
        (os.replace if replace else _link_new)(tmp, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if _disk_full(error):
            free = shutil.disk_usage(path.parent).free / 2**20
            raise OSError(errno.ENOSPC, f"no space left on the disk to write {path} ({free:.0f} MB free); "
                          "the file it would replace is kept as it was", str(path)) from error
        raise
    with contextlib.suppress(FileNotFoundError):  # still there after _link_new: the name stays linked
        os.unlink(tmp)


def _link_new(tmp, path):
    """Put tmp in place at path unless a file (or link) is there already: FileExistsError then."""
    try:
        os.link(tmp, path)
    except OSError as error:
        if error.errno not in _NO_HARD_LINKS:
            raise
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, "File exists", str(path)) from None
        os.replace(tmp, path)


def _disk_full(error):
    """Whether error, or one it was raised while handling, is 'No space left on device'.

    torch.save reports a full disk as a RuntimeError about zip positions, raised while handling
    the OSError that says what happened.
    """
    while error is not None:
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            return True
        error = error.__cause__ or error.__context__
    return False


def remove_stale_temporaries(path):
    """Remove the temporary files of ``path`` that a killed process left (its id is in their name).

    Only plain files whose process is gone are removed; a link, or another name, is left alone.
    """
    prefix = f".{Path(path).name}."
    with os.scandir(Path(path).parent) as entries:
        for entry in entries:
            pid = entry.name[len(prefix):].split(".")[0]
            if (entry.name.startswith(prefix) and entry.name.endswith(".tmp") and pid.isdigit()
                    and entry.is_file(follow_symlinks=False) and not _alive(int(pid))):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)


def _alive(pid):
    """Whether a process of that id runs (one of another user counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # permission denied: it exists
        return True
    return True


class Terminated(BaseException):
    """SIGTERM arrived while a file was being written; raised so that its temporary file goes."""


@contextlib.contextmanager
def sigterm_as_exception():
    """While the block runs, SIGTERM raises :class:`Terminated`; afterwards the process dies of it.

    Only where the process would have died of SIGTERM anyway (its handler is the default) and
    only in the main thread, the one Python runs signal handlers in; elsewhere the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def terminate(signum, frame):
        raise Terminated()

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    except Terminated:  # the block's own clean-up has run: now end as SIGTERM would have
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)
        raise
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
