"""Reading and writing the files confgen touches, without hanging and without losing any.

Every config file confgen reads (nginx files, gunicorn.conf.py, profiles, access logs' configs)
goes through :func:`read_regular_file`; every file it writes (rendered configs, fixes) goes
through :func:`write_atomically`, so the set is all old or all new.

The modules only writing and diffing use (tempfile, shutil, signal, difflib) are imported inside
those functions: ``confgen lint`` only reads, and its start-up is paid on every commit.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import stat
from pathlib import Path
from typing import Mapping

from confgen.errors import ConfgenError


# Texts that stand in for files on disk while ``lint --fix`` / ``--diff`` lint the result of a
# pass of fixes before anything is written: real path -> text.
_OVERLAY: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("confgen_overlay", default=None)


@contextlib.contextmanager
def overlaid(texts: Mapping[str, str]):
    """Every read of these files (by path, symlinks resolved) returns these texts instead of
    what is on disk, inside the ``with``: a whole lint sees the files as a fix would leave them."""
    token = _OVERLAY.set({os.path.realpath(path): text for path, text in texts.items()})
    try:
        yield
    finally:
        _OVERLAY.reset(token)


def overlaid_text(path: str) -> str | None:
    """The text standing in for ``path`` (see :func:`overlaid`), or None."""
    overlay = _OVERLAY.get()
    if not overlay:
        return None
    return overlay.get(os.path.realpath(path))


def locate_container_path(path: str, directories: list[str], min_parts: int = 1) -> str | None:
    """The file in the repository that a path in a command names: ``path`` under each of
    ``directories`` (the command file's, a build context), then by its trailing parts. Images
    copy the repository into a directory of their own (``COPY . /app``), so a container's
    ``/app/deploy/start.sh`` is ``deploy/start.sh`` there, or ``start.sh`` beside the command;
    failing those, ``deploy/start.sh`` under one of the directories' nearest ancestors. A match
    keeps ``min_parts`` trailing parts at least (2: never a bare file name beside the command)."""
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if not parts or "$" in path or ".." in parts:
        return None
    for directory in directories:
        for skip in range(len(parts) - min_parts + 1):
            candidate = os.path.join(directory, *parts[skip:])
            if os.path.isfile(candidate):
                return candidate
    # A command file kept below the repository's root (deploy/supervisor/production/app.conf)
    # names ``/srv/app/deploy/gunicorn.py``: the root is an ancestor, matched on two parts or more.
    for directory in directories:
        ancestor = os.path.abspath(directory)
        for _ in range(ANCESTORS_SEARCHED):
            parent = os.path.dirname(ancestor)
            if parent == ancestor:
                break
            ancestor = parent
            for skip in range(len(parts) - max(min_parts, 2) + 1):
                candidate = os.path.join(ancestor, *parts[skip:])
                if os.path.isfile(candidate):
                    return candidate
    return None


ANCESTORS_SEARCHED = 4


def read_regular_file(path: str, max_bytes: int) -> tuple[bytes | None, str | None]:
    """(bytes, None) or (None, why not), for every config file confgen reads (nginx files, a
    gunicorn.conf.py). Opened non-blocking and checked after opening, so a FIFO, a device or a
    directory is refused without ever being read (a FIFO nobody writes would block for ever,
    /dev/zero would never end), and nothing can swap the file between the check and the read.
    A file larger than ``max_bytes``, or one that grows past it while read, is refused."""
    stand_in = overlaid_text(path)
    if stand_in is not None:
        return stand_in.encode("utf-8"), None
    limit = max_bytes
    too_large = f"larger than {limit / 2**20:g} MiB; not read"
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None, "no such file"
    except IsADirectoryError:
        return None, "is a directory"
    except PermissionError:
        return None, "cannot read: permission denied"
    except (OSError, ValueError) as error:
        return None, f"cannot read: {getattr(error, 'strerror', None) or error}"
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            return None, "is a directory"
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file (a device, FIFO or socket is never read)"
        if info.st_size > limit:
            return None, too_large
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1024 * 1024, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            return None, too_large
    except OSError as error:
        return None, f"cannot read: {error.strerror or error}"
    finally:
        os.close(fd)
    return b"".join(chunks), None



def read_text_file(path: str, max_bytes: int) -> str:
    """:func:`read_regular_file` decoded as UTF-8; ConfgenError ``PATH: cannot read: why``."""
    raw, problem = read_regular_file(path, max_bytes)
    if problem:
        raise ConfgenError(f"{path}: cannot read: {problem.removeprefix('cannot read: ')}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfgenError(f"{path}: cannot read: not UTF-8 text (byte {error.start})") from None


def diff_against_disk(files: Mapping[str, str], output_dir: str | os.PathLike) -> str:
    """A unified diff from the files on disk to ``files``; "" when they match. Writes nothing."""
    chunks = []
    for name, new_text in files.items():
        path = Path(output_dir) / name
        try:
            old_text = path.read_text("utf-8")
        except FileNotFoundError:
            old_text = None
        except (OSError, UnicodeDecodeError) as error:
            raise ConfgenError(f"{path}: cannot read: {getattr(error, 'strerror', None) or error}") from None
        if old_text == new_text:
            continue
        chunks.append(unified_diff(old_text or "", new_text, str(path) if old_text is not None else "/dev/null",
                                   f"{path} (rendered)"))
    return "".join(chunks)


def unified_diff(old: str, new: str, name: str, new_name: str | None = None) -> str:
    """A unified diff ``patch`` applies: a line without a final newline is followed by
    ``\\ No newline at end of file``, as diff(1) writes it, on whichever side it is."""
    import difflib

    out = []
    for line in difflib.unified_diff(_lines(old), _lines(new), fromfile=name, tofile=new_name or name):
        out.append(line)
        if not line.endswith("\n"):
            out.append("\n\\ No newline at end of file\n")
    return "".join(out)


def _lines(text: str) -> list[str]:
    """Lines as patch counts them: ended by "\\n" only (str.splitlines also splits at form
    feeds and other separators a config may hold)."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def write_atomically(files: Mapping[str, str], output_dir: str | os.PathLike) -> list[Path]:
    """Write every file through a temp file + rename in the same directory.

    All temp files are written and flushed before the first rename, so a failure while writing
    (a full disk, a read-only directory) leaves every existing file as it was and no temp file
    behind. A reader sees either the old or the new file, never a mix.
    """
    directory = Path(output_dir)
    if not directory.is_dir():
        raise ConfgenError(f"{directory}: no such directory (create it, or pass -o)")
    with _signals_deferred():
        return _stage_and_rename({directory / name: text for name, text in files.items()}, str(directory))


def write_files_atomically(files: Mapping[str | os.PathLike, str], expected: Mapping[str, str] | None = None) -> list[Path]:
    """:func:`write_atomically` for files in several directories (fixes edit an include beside
    the main file): every temp file is written before the first rename, and a failure puts the
    renamed ones back. ``expected``: each file's text when it was read; a file that changed
    since is refused before anything is renamed (nothing is written)."""
    targets = {Path(path): text for path, text in files.items()}
    with _signals_deferred():
        return _stage_and_rename(targets, ", ".join(sorted({str(t.parent) for t in targets})), expected)


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGINT, SIGTERM and SIGHUP until every file is renamed: an interrupted render then
    leaves all old files or all new ones, never some of each (nor a temp file)."""
    import signal
    import threading

    deferrable = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, deferrable)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _stage_and_rename(files: Mapping[Path, str], directory: str,
                      expected: Mapping[str, str] | None = None) -> list[Path]:
    import tempfile

    staged: list[tuple[str, Path]] = []
    backups: list[tuple[str, Path]] = []
    renamed: list[Path] = []
    try:
        for target, text in files.items():
            if target.is_dir():
                raise ConfgenError(f"{target}: is a directory")
            handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            staged.append((temp, target))
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temp, _mode_for(target))
        # Keep the old files until every rename is done, so a rename that fails (a busy or
        # immutable target) puts the earlier ones back: all old files or all new ones.
        for path, text in (expected or {}).items():
            if _current_text(path) != text:
                raise ConfgenError(f"{path}: changed since it was read; nothing was written")
        for _, target in staged:
            if target.exists():
                backups.append((_backup(target), target))
        for temp, target in staged:
            os.replace(temp, target)
            renamed.append(target)
    except OSError as error:
        restored = _restore(backups, renamed)
        detail = "no file was changed" if restored else "some files could not be restored"
        raise ConfgenError(f"{directory}: cannot write: {error.strerror or error}; {detail}") from None
    finally:
        for temp, _ in staged:
            if os.path.exists(temp):
                os.unlink(temp)
        for backup, _ in backups:
            if os.path.exists(backup):
                os.unlink(backup)
    return [target for _, target in staged]


def _current_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def _backup(target: Path) -> str:
    """A hard link to the old file (a copy where links are not allowed) beside it."""
    import shutil
    import tempfile

    handle, backup = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
    os.close(handle)
    os.unlink(backup)
    try:
        os.link(target, backup)
    except OSError:
        shutil.copy2(target, backup)
    return backup


def _restore(backups: list[tuple[str, Path]], renamed: list[Path]) -> bool:
    """Put the old files back over the ones already renamed; True when all are back."""
    old = {target: backup for backup, target in backups}
    ok = True
    for target in renamed:
        try:
            if target in old:
                os.replace(old[target], target)
            else:
                os.unlink(target)  # it did not exist before this render
        except OSError:
            ok = False
    return ok


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def unwritable_reason(path: str | os.PathLike) -> str | None:
    """Why an existing file must not be written through, or None: a symbolic link (an atomic
    write would replace the link with a file), a read-only file (no write bit: read-only on
    purpose, even for root, who could write it anyway) or a read-only directory. What
    ``lint --fix`` and ``render`` refuse before they write anything."""
    path = os.fspath(path)
    if os.path.islink(path):
        return f"is a symbolic link to {os.path.realpath(path)}"
    if not os.path.lexists(path):
        return None
    if not os.access(path, os.W_OK) or not os.stat(path).st_mode & 0o222:
        return "read-only (permission denied)"
    if not os.access(os.path.dirname(os.path.abspath(path)), os.W_OK | os.X_OK):
        return "its directory is read-only"
    return None


def directory_unwritable_reason(directory: str | os.PathLike) -> str | None:
    """Why no file can be written in an existing ``directory`` (the system's own words: "Read-only
    file system", "Permission denied"), or None. A read-only mount refuses even root."""
    try:
        if os.statvfs(directory).f_flag & os.ST_RDONLY:
            return os.strerror(errno.EROFS)
    except OSError:
        return None
    if not os.access(directory, os.W_OK | os.X_OK):
        return os.strerror(errno.EACCES)
    return None
