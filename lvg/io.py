"""Small file helpers shared by every phase: atomic writes, staging areas, checksums, canonical safetensors.

Why atomic: Snakemake and DVC treat a file that exists as done. A job killed half-way must never leave a
partial file under the final name, so everything is written to a temporary sibling and renamed.

Why owner-tagged staging names: a job killed with SIGKILL cannot clean up after itself. Every temporary
name carries ``<pid>@<host>``, so the next start of the same writer removes what a dead process left
(:func:`remove_stale`) without touching the files of a writer that is still running.

Why I/O errors become :class:`~lvg.errors.OutputError`: a read-only folder or a full disk is the user's to
fix; it is reported in one line naming the path and the operation (CLI exit 2), and nothing partial stays.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import socket
import struct
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from lvg.errors import LvgError, OutputError

# errnos that mean "the environment refuses this I/O" (not a bug): reported as OutputError
IO_ERRNOS = frozenset(
    {
        errno.EROFS,
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EACCES,
        errno.EPERM,
        errno.EIO,
        errno.EFBIG,
        errno.ENAMETOOLONG,
        errno.ENOTDIR,
        errno.EISDIR,
    }
)
STALE_FOREIGN_S = 24 * 3600  # another host's leftovers: removed once this old (its pid cannot be checked)


def umask() -> int:
    """The process umask (read without changing it for longer than one call)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish_mode(path: str | Path) -> None:
    """Give a staged file or folder the mode a plain ``open``/``mkdir`` would have (mkstemp/mkdtemp make
    0600/0700, which would hide published artifacts from the other members of a shared group)."""
    path = Path(path)
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask())


def io_error(e: OSError, path: str | Path, operation: str) -> OutputError | OSError:
    """``e`` as an OutputError naming ``path`` (or the file ``e`` names) when it is an environment error."""
    if e.errno not in IO_ERRNOS:
        return e
    where = Path(e.filename) if e.filename else Path(path)
    if any(is_staging_name(part) for part in where.parts):
        where = Path(path)  # the user knows the output, not our hidden staging name
    elif e.filename and Path(path).parent not in (where, *where.parents):
        operation = "access"  # a file elsewhere (an input): do not call it a write
    return OutputError(where, operation, e.strerror or str(e))


def user_error(e: BaseException) -> LvgError | None:
    """The one-line error to show for ``e`` if the user can fix it (LvgError, or an environment I/O error that
    no writer converted: a read-only or full output folder), else None (a bug: keep the traceback)."""
    if isinstance(e, LvgError):
        return e
    if isinstance(e, OSError) and e.errno in IO_ERRNOS:
        return OutputError(e.filename or "(unknown path)", "access", e.strerror or str(e))
    return None


@contextlib.contextmanager
def io_errors(path: str | Path, operation: str = "write") -> Iterator[None]:
    """Turn environment I/O errors (read-only, no space, permission) inside the block into OutputError."""
    try:
        yield
    except OSError as e:
        err = io_error(e, path, operation)
        if err is e:
            raise
        raise err from None


# ------------------------------------------------------------------------------------------ staging names
def owner_tag() -> str:
    """``<pid>@<host>``: who owns a staging name (the host without dots, so names stay parseable)."""
    return f"{os.getpid()}@{socket.gethostname().split('.')[0] or 'localhost'}"


def _owner_alive(tag: str, entry: Path) -> bool:
    """Whether the writer that made ``entry`` (owner ``tag``, or '' for an untagged name) may still run."""
    pid_text, _, host = tag.partition("@")
    if not pid_text.isdigit() or not host:
        return False  # an untagged name from an older lvg: nothing can still be writing it
    if host != owner_tag().split("@")[1]:
        try:
            return time.time() - entry.lstat().st_mtime < STALE_FOREIGN_S
        except OSError:
            return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_entries(parent: str | Path, prefix: str, suffix: str = "") -> list[Path]:
    """Entries of ``parent`` named ``<prefix>[<pid>@<host>.]<random><suffix>`` (what :func:`staging_dir` and
    :func:`atomic_path` make) whose writer is gone: killed, crashed, or an older lvg's untagged name."""
    parent = Path(parent)
    pattern = re.compile(rf"{re.escape(prefix)}(?:(\d+@[^.]+)\.)?[A-Za-z0-9_]+{re.escape(suffix)}")
    try:
        names = sorted(os.listdir(parent))
    except (FileNotFoundError, NotADirectoryError):
        return []
    out = []
    for n in names:
        m = pattern.fullmatch(n)
        if m and not _owner_alive(m.group(1) or "", parent / n):
            out.append(parent / n)
    return out


def remove_stale(parent: str | Path, prefix: str, suffix: str = "") -> list[Path]:
    """Delete what :func:`stale_entries` finds; return it (for a log line)."""
    gone = stale_entries(parent, prefix, suffix)
    for p in gone:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
    return gone


def is_staging_name(name: str) -> bool:
    """A hidden name that only a staging area uses (``.x.tmp-*``, ``.x.old-*``, ``.x.*.tmp``, an acquire's
    ``.x.*.acquire``)."""
    return name.startswith(".") and (
        name.endswith((".tmp", ".acquire")) or any(m in name for m in (".tmp-", ".old-"))
    )


def staging_dir(final: str | Path) -> Path:
    """A fresh hidden folder next to ``final`` to build it in, after removing the ones dead runs left.

    Name: ``.<final name>.tmp-<pid>@<host>.<random>``; swap it in with :func:`replace_dir`.
    """
    final = Path(final)
    with io_errors(final.parent, "create folder"):
        final.parent.mkdir(parents=True, exist_ok=True)
        for kind in ("tmp", "old"):
            remove_stale(final.parent, f".{final.name}.{kind}-")
        return Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-{owner_tag()}.", dir=final.parent))


def replace_dir(staging: Path, final: Path) -> None:
    """Put the complete ``staging`` folder in place of ``final`` (the old one, if any, removed afterwards);
    the published folder gets the umask's mode (:func:`publish_mode`)."""
    publish_mode(staging)
    old = None
    if final.exists() or final.is_symlink():
        if not final.is_dir():
            raise OutputError(final, "replace", "exists and is not a folder")
        old = final.with_name(f".{final.name}.old-{owner_tag()}.{os.urandom(4).hex()}")
        os.replace(final, old)
    os.replace(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds.

    Leftovers of killed writers of the same ``path`` are removed first; environment I/O errors (read-only,
    no space, permission) become OutputError naming ``path`` (the temporary file is always removed).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(path.parent, f".{path.name}.", ".tmp")
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{owner_tag()}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as e:
        raise io_error(e, path, "write") from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():  # mkstemp makes 0600 files; published artifacts get the usual umask mode
            publish_mode(tmp_path)
        os.replace(tmp_path, path)
    except OSError as e:
        err = io_error(e, path, "write")
        if err is e:
            raise
        raise err from None
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """``open()`` that publishes the file under its name only when the block completes."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as f:
        yield f


def write_json(path: str | Path, obj: Any) -> None:
    """Write JSON atomically, sorted and indented so that diffs and checksums are stable."""
    with atomic_open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=str)
        f.write("\n")


def read_json(path: str | Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, streamed in 1 MiB chunks (videos can be GBs)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


# ------------------------------------------------------------------------------------------ safetensors
def canonical_header(header: dict[str, Any]) -> bytes:
    """The safetensors header in one fixed form: ``__metadata__`` first with sorted keys, then the tensors
    in data order, compact JSON, space-padded to 8 bytes. (The Rust writer emits the metadata map in a
    per-process random order, so equal tensors gave different file bytes.)"""
    meta = header.get("__metadata__")
    out: dict[str, Any] = {}
    if meta is not None:
        out["__metadata__"] = dict(sorted(meta.items()))
    tensors = sorted(
        ((k, v) for k, v in header.items() if k != "__metadata__"),
        key=lambda kv: (tuple(kv[1]["data_offsets"]), kv[0]),
    )
    out.update(tensors)
    text = json.dumps(out, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return text + b" " * (-len(text) % 8)


def canonicalize_safetensors(path: str | Path) -> None:
    """Rewrite ``path``'s header into :func:`canonical_header` form (in place when the length is unchanged,
    which it is for a reordering; else the whole file is rewritten). Tensor bytes are not touched."""
    path = Path(path)
    with open(path, "r+b") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        raw = f.read(n)
        new = canonical_header(json.loads(raw))
        if new == raw:
            return
        if len(new) == n:
            f.seek(8)
            f.write(new)
            return
        data = f.read()
        f.seek(0)
        f.write(struct.pack("<Q", len(new)) + new + data)
        f.truncate()


def save_tensors(tensors: dict[str, Any], path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """Write torch or numpy ``tensors`` to ``path`` as safetensors with canonical bytes: the same tensors
    and metadata always give the same file (DVC and checksums see a retrain with equal weights as equal)."""
    from safetensors import SafetensorError

    values = list(tensors.values())
    if values and type(values[0]).__module__.startswith("numpy"):
        from safetensors.numpy import save_file
    else:
        from safetensors.torch import save_file
    try:
        save_file(tensors, str(path), metadata=metadata)
    except SafetensorError as e:  # the Rust writer's I/O errors (ENOSPC, EROFS) arrive as this
        text = str(e)
        code = next((c for c in IO_ERRNOS if f"code: {c}," in text), None)
        if code is None:
            raise
        raise OSError(code, os.strerror(code), str(path)) from None
    canonicalize_safetensors(path)
