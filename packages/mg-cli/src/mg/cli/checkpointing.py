"""Checkpoint files that are what their name says: written atomically, read without running code.

A checkpoint is written to a temporary file in its destination folder, flushed to disk and
then renamed over the old one, so a crash, a kill or a full disk leaves either the old file
or the new one, never a truncated one. A checkpoint is read with ``weights_only=True`` from
local paths only: a remote path (``http://``, ``s3://``, ...) is refused, because Lightning
would unpickle it with arbitrary code.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pickle
import re
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

_REMOTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and what does not fit."""


def is_remote(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a URL (``http://``, ``s3://``, ``file://``, ...), not a local path."""
    return bool(_REMOTE.match(os.fspath(path)))


def local_checkpoint(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as an existing local file, or raise one clear error.

    Raises:
        CheckpointError: ``path`` is a URL.
        FileNotFoundError: nothing is at ``path``, or it is a folder.
    """
    text = os.fspath(path)
    if is_remote(text):
        raise CheckpointError(
            f"--ckpt_path {text}: remote checkpoints are refused, because loading one can run "
            "code hidden in it. Download the file, check where it comes from, and pass its "
            "local path."
        )
    file = Path(text).expanduser()
    if not file.is_file():
        what = "a folder" if file.is_dir() else "not there"
        raise FileNotFoundError(
            f"--ckpt_path {text}: {what}; give a .ckpt file that `mg fit` wrote, or best/last."
        )
    return file


def atomic_save(checkpoint: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``checkpoint`` to ``path`` so that the file is always whole.

    The temporary file lives in the destination folder, so the final rename never crosses
    file systems and is atomic; on any failure it is removed and the old file stays.

    Args:
        checkpoint (dict[str, Any]): what `torch.save` writes.
        path (str | os.PathLike[str]): the checkpoint file.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A process killed mid-write (kill -9, power loss) leaves its temporary file behind;
    # only one process writes a run's checkpoints, so any older one is an orphan.
    for orphan in target.parent.glob(f".{glob.escape(target.name)}.*.part"):
        with contextlib.suppress(FileNotFoundError):
            orphan.unlink()
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".part", dir=target.parent
    )
    try:
        # mkstemp creates the file 0600; a checkpoint is shared like any other output.
        os.chmod(temporary, shared_mode())
        with os.fdopen(handle, "wb") as stream:
            torch.save(checkpoint, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_folder(target.parent)


def shared_mode(directory: bool = False) -> int:
    """The mode a plain ``open`` would give a new file (or folder) under the process umask.

    `tempfile.mkstemp` and safetensors create files 0600, readable by their owner only;
    checkpoints and exports are shared like any other output.
    """
    # The process umask can only be read by setting it; set it straight back.
    current = os.umask(0o022)
    os.umask(current)
    return (0o777 if directory else 0o666) & ~current


def _fsync_folder(folder: Path) -> None:
    # The rename itself is durable only once the folder entry is on disk (POSIX).
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows cannot open folders
        return
    try:
        os.fsync(descriptor)
    except OSError:  # pragma: no cover - some file systems refuse fsync on folders
        pass
    finally:
        os.close(descriptor)


def load_checkpoint_file(
    path: str | os.PathLike[str], map_location: Any = "cpu", mmap: bool = False
) -> dict[str, Any]:
    """Read a local checkpoint with ``weights_only=True``; say in one line why it cannot be read.

    This is mg's one checkpoint reader: test/validate/predict, fit's resume, ``mg export``
    and the run resolver all read through it.

    Args:
        path (str | os.PathLike[str]): a local ``.ckpt`` file.
        map_location (Any): where tensors go, as for `torch.load`.
        mmap (bool): map the file instead of reading it (cheap checks of large files).

    Returns:
        dict[str, Any]: the checkpoint.

    Raises:
        CheckpointError: a URL; an empty, truncated or foreign file; one that holds code
            objects; one without a state_dict.
        FileNotFoundError: nothing is at ``path``.
    """
    file = local_checkpoint(path)
    try:
        size = file.stat().st_size
        readable_zip = zipfile.is_zipfile(file)
    except OSError as error:
        raise CheckpointError(f"{file}: cannot be read ({error.strerror or error}).") from error
    if size == 0:
        raise CheckpointError(f"{file}: empty file (0 bytes); use another checkpoint.")
    if not readable_zip:
        # torch.save has written zip archives since torch 1.6, and so does mg fit; a file
        # that is not one (or whose end is missing) is truncated or something else.
        raise CheckpointError(
            f"{file}: not a readable checkpoint ({size} bytes, no complete torch.save "
            "archive): it is truncated or not written by `mg fit`; use another checkpoint, "
            "such as the run's best-*.ckpt."
        )
    try:
        checkpoint = torch.load(file, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as error:
        first = _first_line(error)
        raise CheckpointError(
            f"{file}: refused to load, it holds objects other than tensors and plain values "
            f"({first}). mg loads checkpoints with weights_only=True, so no code in a file runs."
        ) from error
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as error:
        raise CheckpointError(
            f"{file}: not a readable checkpoint ({type(error).__name__}: {_first_line(error)}). "
            "It may be truncated or not written by `mg fit`; use another checkpoint, such as "
            "the run's best-*.ckpt."
        ) from error
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(
            f"{file}: not a Lightning checkpoint (no state_dict); give a .ckpt that `mg fit` wrote."
        )
    return checkpoint


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else "no detail"


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO with atomic writes and code-free reads of local files only."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        """Write the checkpoint atomically (see `atomic_save`)."""
        if storage_options is not None:
            raise TypeError("mg's checkpoint writer takes no storage_options.")
        if is_remote(path):
            raise CheckpointError(f"{path}: mg writes checkpoints to local folders only.")
        atomic_save(checkpoint, path)

    def load_checkpoint(
        self,
        path: Any,
        map_location: Callable | Any | None = lambda storage, loc: storage,
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        """Read a local checkpoint with ``weights_only=True``, whatever the caller asks."""
        return load_checkpoint_file(path, map_location)

    def remove_checkpoint(self, path: Any) -> None:
        """Remove a checkpoint file that is no longer kept."""
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


_SIZE_MISMATCH = re.compile(
    r"size mismatch for ([\w.]+): copying a param with shape torch\.Size\(\[([^\]]*)\]\) from "
    r"checkpoint, the shape in current model is torch\.Size\(\[([^\]]*)\]\)"
)


def explain_mismatch(error: BaseException) -> str:
    """Say in one line what of a checkpoint does not fit the model (shapes, keys, state)."""
    text = str(error)
    sizes = _SIZE_MISMATCH.findall(text)
    if sizes:
        shown = "; ".join(
            f"{name} is [{theirs}] in the checkpoint but [{ours}] here"
            for name, theirs, ours in sizes[:3]
        )
        more = f" (and {len(sizes) - 3} more)" if len(sizes) > 3 else ""
        return f"{shown}{more}"
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def guard_restore(trainer: Any) -> None:
    """Make every failure to apply a checkpoint one `CheckpointError` that names the file.

    Lightning restores weights, data module, callbacks, optimizers and loops in two steps
    of its checkpoint connector; both are wrapped on this trainer alone.
    """
    connector = trainer._checkpoint_connector
    for name in ("_restore_modules_and_callbacks", "restore_training_state"):
        original = getattr(connector, name)

        def guarded(*args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            try:
                return _original(*args, **kwargs)
            except (CheckpointError, FileNotFoundError):
                raise
            except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as error:
                path = trainer.ckpt_path or (args[0] if args else None)
                if path is None:
                    raise
                raise CheckpointError(
                    f"{path}: does not fit this config: {explain_mismatch(error)}. Was it "
                    "written by `mg fit` with the same task, backbone and adapter options?"
                ) from error

        setattr(connector, name, guarded)
