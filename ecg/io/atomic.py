"""Atomic writes.

Files: write to a temporary file in the same folder (``.<name>.<random>.tmp``), then rename
it over the target. Folders: fill a private staging folder, then swap it in as a whole
(:func:`make_staging_dir`, :func:`swap_dir`, :func:`recover_swaps`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

#: Names :func:`atomic_path` gives its temporary files: ``.<name>.<8 random chars>.tmp``
#: (``tempfile.mkstemp``'s random part).
TMP_FILE_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
#: Suffix of a swapped-out folder that is being deleted (never restored by :func:`recover_swaps`).
DELETING_SUFFIX = ".deleting"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``
    (atomic on POSIX), on error it is removed and ``path`` is left untouched."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file normal permissions
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask is process-wide and not thread-safe


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_write_with(path: str | os.PathLike, writer: Callable[[Path], object]) -> Path:
    """Call ``writer(tmp_path)`` (e.g. ``df.to_parquet``) and move the result onto ``path``."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def remove_stale_tmp_files(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files a killed :func:`atomic_path` left directly in ``folder``
    (named as :data:`TMP_FILE_NAME`); returns them. Call it only when no write into
    ``folder`` can be under way (e.g. while holding the folder's lock)."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if TMP_FILE_NAME.match(entry.name) and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def fsync_dir(folder: str | os.PathLike) -> None:
    """Flush a folder's entries (new, renamed or removed names) to disk. A filesystem that
    cannot fsync a folder (some network filesystems) is let be."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def fsync_tree(folder: str | os.PathLike) -> None:
    """Flush every file under ``folder`` and every folder's entries to disk."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(root)


def make_staging_dir(staging_root: str | os.PathLike, name: str) -> Path:
    """A new private folder ``staging_root/<name>.<pid>.<random>`` with normal permissions,
    to be filled and then moved into place by :func:`swap_dir`. ``staging_root`` must be on
    the same filesystem as the final place (e.g. a hidden folder beside it)."""
    root = Path(staging_root)
    root.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix=f"{name}.{os.getpid()}.", dir=root))
    os.chmod(d, 0o777 & ~_UMASK)  # mkdtemp makes 0700
    return d


def swap_dir(staged: str | os.PathLike, target: str | os.PathLike, trash_root: str | os.PathLike) -> Path:
    """Put the folder ``staged`` (from :func:`make_staging_dir`) at ``target`` as a whole,
    replacing any folder there, with renames only (so it also works on a shared filesystem).

    The old ``target`` is renamed to ``trash_root/<staged's name>``, ``staged`` is renamed to
    ``target``, then the old copy is deleted. At every instant ``target`` is either the whole
    old folder, the whole new one, or briefly absent (between the two renames); a process
    killed in that gap leaves the old copy in ``trash_root``, which :func:`recover_swaps` puts
    back. Everything in ``staged`` is fsynced first. If the second rename fails the old folder
    is put back and the error raised. Returns ``target``.
    """
    staged, target, trash_root = Path(staged), Path(target), Path(trash_root)
    fsync_tree(staged)
    trash_root.mkdir(parents=True, exist_ok=True)
    aside = trash_root / staged.name
    try:
        os.rename(target, aside)
        moved_aside = True
    except FileNotFoundError:
        moved_aside = False
    try:
        os.rename(staged, target)
    except BaseException:
        if moved_aside:
            os.rename(aside, target)
        raise
    fsync_dir(target.parent)
    if moved_aside:
        # Marked first, so that a kill during the deletion never leaves a half-deleted copy
        # that recover_swaps would take for a complete one.
        doomed = aside.with_name(aside.name + DELETING_SUFFIX)
        os.rename(aside, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
    return target


def recover_swaps(
    parent: str | os.PathLike, staging_root: str | os.PathLike, trash_root: str | os.PathLike
) -> dict[str, list[str]]:
    """Clean up after :func:`swap_dir` calls that were killed, for folders of ``parent``:
    a folder of ``parent`` missing while its swapped-out copy is in ``trash_root`` (killed
    between the two renames) is put back; every other entry of ``trash_root`` and every
    entry of ``staging_root`` (unfinished folders) is deleted, and both roots are removed
    when empty. Call it only when no swap can be under way (e.g. while holding a lock).
    Returns the names ``{"restored": [...], "removed": [...]}``."""
    parent, staging_root, trash_root = Path(parent), Path(staging_root), Path(trash_root)
    done: dict[str, list[str]] = {"restored": [], "removed": []}
    trash = _entries_newest_first(trash_root)
    for entry in trash:
        name, _pid, _token = entry.name.rsplit(".", 2) if entry.name.count(".") >= 2 else ("", "", "")
        target = parent / name
        if name and not entry.name.endswith(DELETING_SUFFIX) and entry.is_dir() and not os.path.lexists(target):
            os.rename(entry, target)
            done["restored"].append(name)
        else:
            _remove(entry)
            done["removed"].append(str(entry))
    for entry in _entries_newest_first(staging_root):
        _remove(entry)
        done["removed"].append(str(entry))
    for root in (staging_root, trash_root):
        with contextlib.suppress(OSError):
            root.rmdir()  # only when empty
    return done


def _entries_newest_first(folder: Path) -> list[Path]:
    try:
        entries = [Path(e.path) for e in os.scandir(folder)]
    except FileNotFoundError:
        return []
    return sorted(entries, key=lambda p: p.lstat().st_mtime_ns, reverse=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
