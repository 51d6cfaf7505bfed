"""The reference dataset format (NVlabs/long-video-gan), written and read byte-compatibly.

Layout (spec/data.md §3)::

    DATASET/HHHHxWWWW/partition_NNNN.zip      uncompressed (ZIP_STORED)
        <clip_dir>/frame_000000.jpg, ...      JPEG, quality 100, 4:4:4 chroma
        frame_paths.json                      {clip_dir: [sorted frame names]}, indent 2, sort_keys

Clips are assigned to partitions by ``numpy.array_split`` of the sorted clip list (the reference's rule),
so partition ``p`` holds a contiguous run of clip ids. Pixels decode to [-1, 1] as ``2 * x / 255 - 1``.

Differences from the reference writer, none of which a reader can see:

- every zip entry carries a fixed timestamp (1980-01-01) and the entries are written in a fixed order, so the
  same input gives byte-identical partitions (stable sha256 for DVC);
- partitions are written under temporary names and renamed into place only when every one is complete;
- chroma: the reference passes ``subsample=0`` to PIL, a misspelt keyword that PIL ignores, so its files
  are in fact 4:2:0 (PIL's default). We write what the reference meant (``subsampling=0`` = 4:4:4) by
  default; ``subsampling=2`` reproduces the reference's actual bytes.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from PIL import Image

from lvg.errors import InputError

FRAME_PATHS = "frame_paths.json"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed entry timestamp: byte-reproducible archives
SUBSAMPLING_NAMES = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}


def partition_name(index: int) -> str:
    return f"partition_{index:04d}.zip"


def frame_name(index: int) -> str:
    return f"frame_{index:06d}.jpg"


def assign_partitions(clip_ids: Iterable[str], partitions: int) -> dict[str, int]:
    """clip id -> partition index, by ``numpy.array_split`` of the sorted ids (as the reference does)."""
    if partitions < 1:
        raise ValueError(f"partitions must be >= 1, got {partitions}")
    ids = sorted(clip_ids)
    out: dict[str, int] = {}
    # array_split of n items into p parts: the first n % p parts have one extra item.
    bounds = np.cumsum([0] + [len(part) for part in np.array_split(np.arange(len(ids)), partitions)])
    for p in range(partitions):
        for cid in ids[bounds[p]:bounds[p + 1]]:
            out[cid] = p
    return out


def check_clip_id(clip_id: str) -> str | None:
    """Why ``clip_id`` cannot be a clip directory inside a zip (None if it can)."""
    if not clip_id:
        return "empty clip id"
    if "\\" in clip_id or clip_id.startswith("/") or clip_id.endswith("/"):
        return f"clip id {clip_id!r} must be a relative POSIX path (no backslash, no leading/trailing '/')"
    parts = PurePosixPath(clip_id).parts
    if str(PurePosixPath(clip_id)) != clip_id or any(p in (".", "..") for p in parts):
        return f"clip id {clip_id!r} is not a normalised path (no '.', '..' or '//')"
    if clip_id == FRAME_PATHS:
        return f"clip id {clip_id!r} clashes with the index entry"
    return None


CV2_SAMPLING = {0: 0x111111, 1: 0x211111, 2: 0x221111}  # PIL subsampling -> IMWRITE_JPEG_SAMPLING_FACTOR


def encode_jpeg(image: Image.Image | np.ndarray, quality: int = 100, subsampling: int = 0) -> bytes:
    """JPEG bytes of an RGB image (``subsampling`` 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0): PIL's bytes.

    Written through OpenCV's libjpeg-turbo, which releases the GIL (PIL's encoder holds it, so preprocessing's
    encoding threads would not overlap); both write the same baseline JFIF with the same tables
    (``tests/test_preprocess.py`` checks the bytes against PIL's). Other subsampling values go to PIL.
    """
    if subsampling not in CV2_SAMPLING:
        if isinstance(image, np.ndarray):
            image = Image.fromarray(image)
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=quality, subsampling=subsampling)
        return buf.getvalue()
    import cv2

    bgr = cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality,
                                         cv2.IMWRITE_JPEG_SAMPLING_FACTOR, CV2_SAMPLING[subsampling]])
    if not ok:
        raise RuntimeError("cv2.imencode failed to write a JPEG")
    return buf.tobytes()


def decode_jpeg(data: bytes) -> np.ndarray:
    """uint8 RGB [H, W, 3] from JPEG bytes."""
    with Image.open(io.BytesIO(data)) as im:
        if im.mode != "RGB":
            im = im.convert("RGB")
        return np.asarray(im)


class FrameDecodeError(InputError):
    """A stored frame that does not decode: which shard, clip and frame, and what the decoder said."""

    def __init__(self, shard: str | Path, clip_id: str | None = None, frame: str | None = None,
                 reason: str | None = None) -> None:
        self.shard, self.clip_id, self.frame = Path(shard), clip_id, frame
        if clip_id is None:  # re-raised from a DataLoader worker with its message (lvg.errors.worker_message)
            super().__init__(shard)
            return
        super().__init__(shard, f"frame {frame!r} of clip {clip_id!r} does not decode ({reason}); re-run the "
                         "preprocess phase for this resolution (lvg audit --decode lists every bad frame)",
                         f"{clip_id}/{frame}")


def to_float(frames: np.ndarray) -> np.ndarray:
    """uint8 -> float32 in [-1, 1] as ``2 * x / 255 - 1`` (the reference's decoding)."""
    x = frames.astype(np.float32)
    x *= 2
    x /= 255
    x -= 1
    return x


def _zipinfo(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


class ShardWriter:
    """Stream JPEG frames of many clips into ``partitions`` zips under ``out_dir``.

    ``clip_ids`` is the whole clip list (it fixes each clip's partition). Frames of a clip are appended in
    order with :meth:`add` (numbered ``frame_000000.jpg``, ...); clips may be interleaved. On a clean exit
    each zip gets its ``frame_paths.json`` and is renamed from a hidden temporary name to
    ``partition_NNNN.zip``; on an exception every temporary file is deleted and nothing is renamed. Clips
    that received no frame are left out of ``frame_paths.json`` (as the reference does).

    Usage::

        with ShardWriter(out_dir, clip_ids, partitions=10) as w:
            w.add(clip_id, jpeg_bytes)          # or w.add_image(clip_id, uint8_rgb_array)
        w.files  # final paths, in partition order
    """

    def __init__(self, out_dir: str | Path, clip_ids: Sequence[str], partitions: int, quality: int = 100,
                 subsampling: int = 0) -> None:
        self.out_dir = Path(out_dir)
        for cid in clip_ids:
            if problem := check_clip_id(cid):
                raise ValueError(problem)
        if len(set(clip_ids)) != len(clip_ids):
            raise ValueError("duplicate clip ids")
        self.partition_of = assign_partitions(clip_ids, partitions)
        self.num_partitions = partitions
        self.quality = quality
        self.subsampling = subsampling
        self.frames: dict[str, list[str]] = {cid: [] for cid in sorted(clip_ids)}
        self.files: list[Path] = [self.out_dir / partition_name(p) for p in range(partitions)]
        self._tmp: list[Path] = []
        self._zips: list[zipfile.ZipFile] = []

    def __enter__(self) -> ShardWriter:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        try:
            for final in self.files:
                fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=self.out_dir)
                os.close(fd)
                self._tmp.append(Path(tmp))
                self._zips.append(zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED))
        except BaseException:
            self._abort()
            raise
        return self

    def add(self, clip_id: str, jpeg: bytes) -> str:
        """Append one encoded frame to ``clip_id``; returns its entry name inside the zip."""
        names = self.frames[clip_id]
        name = frame_name(len(names))
        path = f"{clip_id}/{name}"
        self._zips[self.partition_of[clip_id]].writestr(_zipinfo(path), jpeg)
        names.append(name)
        return path

    def add_image(self, clip_id: str, image: Image.Image | np.ndarray) -> str:
        return self.add(clip_id, encode_jpeg(image, self.quality, self.subsampling))

    def frame_paths(self, partition: int) -> dict[str, list[str]]:
        return {cid: names for cid, names in self.frames.items()
                if names and self.partition_of[cid] == partition}

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self._abort()
            return
        try:
            for p, zf in enumerate(self._zips):
                text = json.dumps(self.frame_paths(p), indent=2, sort_keys=True)  # byte-for-byte the reference
                zf.writestr(_zipinfo(FRAME_PATHS), text.encode("utf-8"))
                zf.close()
            for tmp, final in zip(self._tmp, self.files, strict=True):
                os.replace(tmp, final)
        except BaseException:
            self._abort()
            raise

    def _abort(self) -> None:
        for zf in self._zips:
            try:
                zf.close()
            except Exception:  # noqa: BLE001 - best effort on the error path
                pass
        for tmp in self._tmp:
            tmp.unlink(missing_ok=True)


class ShardReader:
    """Random access to the frames of one resolution folder (``DATASET/HHHHxWWWW``).

    Clips are ordered as the reference loader orders them: by partition file name, then clip dir. Reading
    frame ``k`` of clip ``c`` reads exactly one zip entry. Zip handles are opened lazily and per process
    (re-opened after a fork; dropped when pickled), so one reader can be shared by DataLoader workers.
    """

    def __init__(self, res_dir: str | Path) -> None:
        self.res_dir = Path(res_dir)
        if not self.res_dir.is_dir():
            raise InputError(self.res_dir, "dataset resolution folder not found (expected DATASET/HHHHxWWWW)")
        self.partitions: list[Path] = sorted(self.res_dir.glob("*.zip"), key=lambda p: p.stem)
        if not self.partitions:
            raise InputError(self.res_dir, "no partition_*.zip files in the dataset folder")
        self._clip_ids: list[str] = []
        self._frames: list[list[str]] = []
        self._part: list[int] = []
        for p, path in enumerate(self.partitions):
            table = self._read_frame_paths(path)
            for cid in sorted(table):
                self._clip_ids.append(cid)
                self._frames.append(list(table[cid]))
                self._part.append(p)
        self._index = {cid: i for i, cid in enumerate(self._clip_ids)}
        if len(self._index) != len(self._clip_ids):
            seen: set[str] = set()
            dup = next(c for c in self._clip_ids if c in seen or seen.add(c))
            raise InputError(self.res_dir, f"clip {dup!r} appears in more than one partition")
        self._zips: dict[int, zipfile.ZipFile] = {}
        self._pid = os.getpid()

    @staticmethod
    def _read_frame_paths(path: Path) -> dict[str, list[str]]:
        try:
            with zipfile.ZipFile(path) as zf, zf.open(FRAME_PATHS) as f:
                table = json.load(f)
        except KeyError:
            raise InputError(path, f"no {FRAME_PATHS} in the partition") from None
        except (zipfile.BadZipFile, OSError) as e:
            raise InputError(path, f"not a readable zip file: {e}") from None
        except ValueError as e:
            raise InputError(path, f"{FRAME_PATHS} is not valid JSON: {e}") from None
        if not isinstance(table, dict) or not all(
                isinstance(k, str) and isinstance(v, list) and all(isinstance(n, str) for n in v)
                for k, v in table.items()):
            raise InputError(path, f"{FRAME_PATHS} must map clip dirs to lists of frame file names")
        return table

    # ----------------------------------------------------------------------------------------- listing
    @property
    def clip_ids(self) -> list[str]:
        return list(self._clip_ids)

    def __len__(self) -> int:
        return len(self._clip_ids)

    def clip_index(self, clip_id: str) -> int:
        return self._index[clip_id]

    def num_frames(self, clip: int | str) -> int:
        return len(self._frames[self._ci(clip)])

    def frame_names(self, clip: int | str) -> list[str]:
        return list(self._frames[self._ci(clip)])

    def partition(self, clip: int | str) -> Path:
        return self.partitions[self._part[self._ci(clip)]]

    def frame_table(self) -> list[tuple[str, list[str]]]:
        """(clip id, frame names) for every clip, in reader order: what SR pairing compares."""
        return [(c, list(f)) for c, f in zip(self._clip_ids, self._frames, strict=True)]

    def _ci(self, clip: int | str) -> int:
        return self._index[clip] if isinstance(clip, str) else int(clip)

    # ----------------------------------------------------------------------------------------- reading
    def _zip(self, p: int) -> zipfile.ZipFile:
        if self._pid != os.getpid():  # forked: never share a file offset with the parent
            self._zips = {}
            self._pid = os.getpid()
        zf = self._zips.get(p)
        if zf is None:
            try:
                zf = self._zips[p] = zipfile.ZipFile(self.partitions[p])
            except (zipfile.BadZipFile, OSError) as e:
                raise InputError(self.partitions[p], f"not a readable zip file: {e}") from None
        return zf

    def read_jpeg(self, clip: int | str, k: int) -> bytes:
        """The stored bytes of frame ``k`` of ``clip``."""
        c = self._ci(clip)
        name = f"{self._clip_ids[c]}/{self._frames[c][k]}"
        try:
            return self._zip(self._part[c]).read(name)
        except KeyError:
            raise InputError(self.partitions[self._part[c]], "listed in frame_paths.json but missing",
                             name) from None
        except (zipfile.BadZipFile, OSError) as e:
            raise InputError(self.partitions[self._part[c]], f"cannot read entry: {e}", name) from None

    def decode(self, clip: int | str, k: int) -> np.ndarray:
        """Frame ``k`` of ``clip`` decoded (uint8 RGB); a frame that does not decode (a truncated or corrupt
        JPEG inside a zip with a valid CRC) is a :class:`FrameDecodeError` naming shard, clip and frame."""
        c = self._ci(clip)
        data = self.read_jpeg(c, k)
        try:
            return decode_jpeg(data)
        except (OSError, SyntaxError, ValueError) as e:  # what PIL raises for bad image bytes
            raise FrameDecodeError(self.partitions[self._part[c]], self._clip_ids[c], self._frames[c][k],
                                   str(e)) from None

    def read_frame(self, clip: int | str, k: int, dtype: str = "uint8") -> np.ndarray:
        """Frame ``k`` as uint8 RGB [H, W, 3], or float32 in [-1, 1] with ``dtype="float"``."""
        frame = self.decode(clip, k)
        return to_float(frame) if dtype == "float" else frame

    def read_frames(self, clip: int | str, indices: Iterable[int], out: np.ndarray | None = None) -> np.ndarray:
        """uint8 [T, H, W, 3] of the given frames (``out``: a preallocated array to fill)."""
        c = self._ci(clip)
        indices = list(indices)
        for t, k in enumerate(indices):
            frame = self.decode(c, k)
            if out is None:
                out = np.empty((len(indices), *frame.shape), dtype=np.uint8)
            if frame.shape != out.shape[1:]:
                raise InputError(self.partitions[self._part[c]],
                                 f"frame is {frame.shape[1]}x{frame.shape[0]}, expected "
                                 f"{out.shape[2]}x{out.shape[1]}", f"{self._clip_ids[c]}/{self._frames[c][k]}")
            out[t] = frame
        if out is None:
            raise ValueError("no frame indices given")
        return out

    def close(self) -> None:
        for zf in self._zips.values():
            zf.close()
        self._zips = {}

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__, _zips={})

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._pid = os.getpid()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass
