"""Files that are either complete or absent: the one "write beside, then rename" helper
that reports, vocabularies, benchmark tables and checkpoints all use, and what to say when a
checkpoint path is not a file, and SIGTERM as an exception (``sigterm_raises_terminated``)
so that a killed write removes its temporary. Pure Python."""
from __future__ import annotations

import contextlib
import difflib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, BinaryIO, Callable, Optional, Union

__all__ = ["Terminated", "atomic_write", "checkpoint_not_there", "current_umask", "mode_for", "naming", "not_writable",
           "temp_prefix", "remove_stale_temps", "sigterm_raises_terminated"]

STALE_AFTER_S = 600.0  # a temporary left this long by a process that is gone is removed


def temp_prefix(path: Path) -> str:
    """Name prefix of the hidden temporaries this process writes ``path`` through:
    ``.NAME.PID.`` (the process id lets a later writer tell a dead writer's leftovers)."""
    return f".{path.name}.{os.getpid()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # someone else's process, or no way to ask: keep its files
        return True
    return True


def remove_stale_temps(path: Path) -> None:
    """Remove the temporaries of ``path`` that a killed writer left (``kill -9``, a power cut):
    those whose process is gone and that have not changed for ``STALE_AFTER_S`` seconds (the
    age keeps a writer on another machine sharing the folder safe)."""
    prefix, now = f".{path.name}.", time.time()
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    for entry in entries:
        pid = entry.name[len(prefix):].split(".", 1)[0]
        if not entry.name.startswith(prefix) or not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime < STALE_AFTER_S or _alive(int(pid)):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            pass


def atomic_write(path: str | os.PathLike, data: Union[bytes, Callable[[BinaryIO], None]], fsync: bool = False) -> None:
    """Write ``path`` through a hidden temporary file in the same folder and a rename, so a
    reader (or a crash, or ``kill -9``) sees the old file or the new one, never a part. What a
    killed writer left is removed by the next write of ``path`` (``remove_stale_temps``).

    Args:
        path: the final file; its folder is created if needed.
        data: the bytes, or a function that writes them to the open binary file.
        fsync: also sync the file and the rename to disk (for checkpoints).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    # a read-only folder: the error names the file meant, not the temporary
    fd, tmp = naming(path, lambda: tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=path.parent))
    try:
        with os.fdopen(fd, "wb") as f:
            os.chmod(tmp, mode_for(path))  # mkstemp makes the file private (0600)
            if callable(data):
                data(f)
            else:
                f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and e.filename in (None, tmp):
            # a full disk shows when the file is closed, without a name: name the file meant
            raise _naming_error(e, path) from None
        raise
    if fsync:
        _fsync_dir(path.parent)  # make the rename itself durable


def _naming_error(e: OSError, path) -> OSError:
    """``e`` naming ``path`` (the same errno, so the same OSError subclass)."""
    return OSError(e.errno, e.strerror or str(e), str(path))


def naming(path, action: Callable[[], Any]) -> Any:
    """``action()``, whose OSError names ``path``, the file the caller meant, rather than the
    hidden file written first (or no file at all)."""
    try:
        return action()
    except OSError as e:
        raise _naming_error(e, path) from None


def mode_for(path) -> int:
    """The permission bits to give a file written beside ``path`` and renamed onto it: the old
    file's, or a new file's (0666 less the umask)."""
    path = Path(path)
    return path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~current_umask()


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


def not_writable(path, probe: bool = True) -> Optional[str]:
    """Why no file can be written at ``path`` (checked before a long run that writes it at the
    end): a file where a folder above it should be (``train.csv is a file, not a folder``), or,
    with ``probe``, the nearest existing folder above it refusing a new file (a read-only disk,
    no permission: found by creating and removing a hidden file, which says what the write will
    meet where ``os.access`` may guess wrong, as on network file systems); ``None`` when it can."""
    path = Path(path).absolute()
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is a file, not a folder"
    if probe:
        try:
            fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=folder)
        except OSError as e:
            return f"no file can be created in {folder} ({e.strerror or e})"
        os.close(fd)
        os.unlink(tmp)
    return None


def checkpoint_not_there(path) -> Optional[str]:
    """Why ``path`` is not a checkpoint file (missing, a folder, a bundle folder), with the likely
    file meant; ``None`` when it is a file."""
    from .bundle import CONFIG_FILE  # here: bundle imports text, which imports this module

    path = Path(path)
    if path.is_file():
        return None
    if path.is_dir():
        if (path / CONFIG_FILE).is_file():
            return (f"{path}: is a bundle folder (`textcnn export` wrote it), not a training checkpoint; give a .ckpt "
                    "file, or use the bundle with `textcnn predict --bundle` / `textcnn classify --bundle`")
        found = sorted(path.glob("*.ckpt")) or sorted(path.glob("**/checkpoints/*.ckpt"))
        found = [f for f in found if f.name.startswith("best-")] or [f for f in found if f.name != "last.ckpt"] or found
        return f"{path}: is a folder; give a .ckpt file in it (e.g. {found[0] if found else 'checkpoints/best-....ckpt'})"
    siblings = sorted(f.name for f in path.parent.glob("*.ckpt")) if path.parent.is_dir() else []
    close = difflib.get_close_matches(path.name, siblings, n=1, cutoff=0.6)
    best = [name for name in siblings if name.startswith("best-")] or [name for name in siblings if name != "last.ckpt"]
    if path.name.startswith("best") and best and (not close or "..." in path.name):
        close = [best[-1]]  # e.g. the README's best-....ckpt pasted: a best checkpoint, not last.ckpt
    return f"{path}: checkpoint not found" + (f"; did you mean {path.parent / close[0]}?" if close else "")


class Terminated(BaseException):
    """SIGTERM (``kill``, a scheduler's stop) as an exception, raised where the main thread is,
    so a command stops as at Ctrl-C: ``cv`` and ``bench`` save the finished runs and name
    ``--resume``; ``export``, ``predict`` (both forms), ``validate`` and ``test`` remove the
    temporaries of what they were writing."""


@contextlib.contextmanager
def sigterm_raises_terminated():
    """Within it, SIGTERM raises ``Terminated``. Lightning, when a training starts, keeps this
    handler and calls it after its own, so a run in training stops too."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():  # only the main thread has handlers
        yield
        return

    def terminated(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
