"""Files that are either complete or absent: the one "write beside, then rename" helper
that reports, vocabularies, benchmark tables and checkpoints all use. Pure Python."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Union

__all__ = ["atomic_write", "current_umask"]


def atomic_write(path: str | os.PathLike, data: Union[bytes, Callable[[BinaryIO], None]], fsync: bool = False) -> None:
    """Write ``path`` through a hidden temporary file in the same folder and a rename, so a
    reader (or a crash, or ``kill -9``) sees the old file or the new one, never a part.

    Args:
        path: the final file; its folder is created if needed.
        data: the bytes, or a function that writes them to the open binary file.
        fsync: also sync the file and the rename to disk (for checkpoints).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            # mkstemp makes the file private (0600); give it the old file's mode, or a new file's
            os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~current_umask())
            if callable(data):
                data(f)
            else:
                f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if fsync:
        _fsync_dir(path.parent)  # make the rename itself durable


def current_umask() -> int:
    """The process's umask (reading it means setting it, so it is set back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open a folder
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
