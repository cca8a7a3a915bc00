"""Checkpoint files that are either complete or absent: written beside their final path,
synced to disk and renamed into place; read with ``torch.load(weights_only=True)``."""
from __future__ import annotations

from typing import Any, Callable, Optional

import torch
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.pytorch.plugins.io import TorchCheckpointIO
from fsspec.implementations.local import LocalFileSystem

from .fileio import atomic_write

__all__ = ["AtomicCheckpointIO", "checkpoint_header", "unreadable_checkpoint"]


def unreadable_checkpoint(path, error: BaseException) -> ValueError:
    """The one-line error for a checkpoint file that torch cannot read."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return ValueError(f"{path}: cannot read the checkpoint ({type(error).__name__}: {first[:200]}); give a "
                      "complete .ckpt written by `textcnn fit`")


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose local saves cannot leave a partial ``.ckpt`` behind.

    Lightning's own save writes through an fsspec transaction whose temporary file lives in
    the system temp folder and is moved (copied, across file systems) onto the final path
    without an fsync, so a crash or ``kill -9`` mid-copy can leave a truncated checkpoint.
    Here the checkpoint goes to a hidden temporary file in the same folder, is fsynced and
    then ``os.replace``d over the final name: a reader sees the old file or the new one.
    Remote paths (``s3://`` ...) keep Lightning's behaviour.

    Loading defaults to ``weights_only=True`` (tensors and plain data only, no pickled code).

    Args:
        callback_aliases: a callback's state key in older checkpoints -> its key now (the
            first textcnn kept the best checkpoint with a plain ``ModelCheckpoint``); a loaded
            checkpoint's state under an old key moves to the new one unless that is present.
    """

    def __init__(self, callback_aliases: Optional[dict[str, str]] = None):
        super().__init__()
        self.callback_aliases = dict(callback_aliases or {})

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Optional[Any] = None) -> None:
        if not isinstance(get_filesystem(path), LocalFileSystem):
            return super().save_checkpoint(checkpoint, path, storage_options)
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} does not take storage_options")
        try:
            atomic_write(path, lambda f: torch.save(checkpoint, f), fsync=True)
        except RuntimeError as e:
            # torch's writer turns a failed write (a full disk, a quota) into "unexpected pos ...",
            # with the OSError only in the chain: say that one, in one line
            cause, seen = e, set()
            while cause is not None and not isinstance(cause, OSError) and id(cause) not in seen:
                seen.add(id(cause))
                cause = cause.__cause__ or cause.__context__
            cause = cause if isinstance(cause, OSError) else None
            if cause is None:
                raise
            raise OSError(cause.errno, f"cannot write the checkpoint: {cause.strerror or cause}", str(path)) from None

    def load_checkpoint(
        self, path, map_location: Optional[Callable] = lambda storage, loc: storage, weights_only: Optional[bool] = None
    ) -> dict[str, Any]:
        try:
            checkpoint = super().load_checkpoint(path, map_location=map_location,
                                                 weights_only=True if weights_only is None else weights_only)
        except FileNotFoundError:
            raise
        except Exception as e:  # torch raises several types for a truncated, corrupt or foreign file
            raise unreadable_checkpoint(path, e) from None
        checkpoint = _training_checkpoint(path, checkpoint)
        states = checkpoint.get("callbacks")
        if isinstance(states, dict):
            for old, new in self.callback_aliases.items():
                if old in states and new not in states:
                    states[new] = states.pop(old)
        return checkpoint


def _training_checkpoint(path, checkpoint) -> dict[str, Any]:
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ValueError(f"{path}: not a training checkpoint (no state_dict in it); give a .ckpt written by "
                         "`textcnn fit` (a bundle folder goes to `textcnn predict --bundle`)")
    return checkpoint


def checkpoint_header(path) -> dict[str, Any]:
    """A training checkpoint's dictionary with its tensors mapped from the file, not read: its
    hyper-parameters, step and data settings at almost no cost, however large the weights are
    (the full read is the trainer's, once). A file torch cannot map (a remote path, the
    format of torch before 1.6) is read whole, with ``load_checkpoint``'s errors."""
    if isinstance(get_filesystem(path), LocalFileSystem):
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception:
            pass  # the full read below says what is wrong with the file, if anything
        else:
            return _training_checkpoint(path, checkpoint)
    return AtomicCheckpointIO().load_checkpoint(path)
