"""Phase 1, acquire: every source of a manifest becomes ``<raw_dir>/<id>.mp4`` plus a provenance record.

One code path per source kind (spec/data.md §6, DESIGN.md "acquire"):

* ``youtube`` and ``url``: yt-dlp used as a library, one format chosen by the configured selector and sort
  order, downloaded into a private temporary folder under ``raw_dir`` and moved into place; the info JSON is
  kept as ``<id>.info.json``; webm/mkv downloads are remuxed (stream copy, no re-encode) to mp4.
* ``local``: a file the user has, copied, hard-linked or symlinked (``acquire.local_link``), checked against
  the manifest's sha256 when one is given.
* ``synthetic``: rendered by :mod:`lvg.data.synthetic`, with its ground truth as ``<id>.truth.json``.

Every result is decoded in full before it is published (:func:`lvg.data.video.probe` with ``count=True``:
integrity check and exact frame count), and compared with the length its container declares, which catches
a truncated file that still decodes. ``<id>.provenance.json`` is written last and atomically: its presence
means the source is done, and a later call returns it without touching the network, provided the video is
still there and the record still matches the manifest entry.

Idempotence for downloads also goes through yt-dlp's ``download_archive`` (``raw_dir/download_archive.txt``).
The archive only says "downloaded once", not "the file is still here": when it lists a source whose files are
gone, its line is removed and the download redone. For YouTube URLs yt-dlp consults the archive before any
network access; for direct URLs (the generic extractor) after one request, and its ids are URL basenames,
so two URLs ending in ``clip.mp4`` share one archive line -- the re-download rule above keeps that harmless.

Every failure caused by input is an :class:`~lvg.errors.InputError` naming the manifest, the source and the
problem; nothing is ever left under a final name by a failed call.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import av
import pandas as pd

import lvg
from lvg.data.manifest import Manifest, Source, resolve_local_path
from lvg.data.video import probe, remux_to_mp4
from lvg.errors import InputError
from lvg.io import atomic_open, read_json, sha256_file, write_json

log = logging.getLogger(__name__)

ARCHIVE_NAME = "download_archive.txt"

#: The schema defaults of the ``acquire`` section (workflow/schemas/config.schema.yaml), so that callers may
#: pass a partial dict; a validated config already has every key.
DEFAULTS: dict[str, Any] = {
    "format": "bv*[height<=?1080]/b",
    "format_sort": ["res:1080", "vcodec:h264", "ext:mp4"],
    "retries": 10,
    "socket_timeout": 30,
    "ratelimit": None,
    "sleep_interval_requests": 0,
    "local_link": "copy",
}

#: Leading columns of the provenance table, always present (empty where a kind has no such field).
TABLE_COLUMNS = [
    "source_id", "dataset", "kind", "url", "webpage_url", "title", "uploader", "licence", "reported_licence",
    "upload_date", "download_time", "format_id", "original_ext", "remuxed", "vcodec", "width", "height",
    "fps", "num_frames", "duration_s", "size_bytes", "sha256", "raw_file",
    "tools.lvg", "tools.yt_dlp", "tools.av", "tools.python",
]


# ----------------------------------------------------------------------------------------------------------
# Entry points
# ----------------------------------------------------------------------------------------------------------

def acquire_source(manifest: Manifest, source_id: str, raw_dir: Path, cfg: dict, progress: bool = False) -> dict:
    """Make ``raw_dir/<id>.mp4`` and ``raw_dir/<id>.provenance.json`` (last, atomically); return the record.

    ``cfg`` is the ``acquire`` section of params.yaml. ``progress=True`` shows a tqdm bar (on a terminal);
    milestones always go to the ``lvg.data.acquire`` logger.
    """
    source = manifest.sources.get(source_id)
    if source is None:
        raise InputError(manifest.path, "no such source in the manifest", source_id)
    cfg = {**DEFAULTS, **(cfg or {})}
    raw_dir = Path(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)

    spec = _synthetic_spec(manifest, source) if source.kind == "synthetic" else None
    done = _existing_record(manifest, source, raw_dir, spec)
    if done is not None:
        log.info("%s: already acquired (%s), nothing to do", source_id, done.get("raw_file"))
        return done

    _remove_stale_temp(raw_dir, source_id)
    log.info("%s: acquiring (%s%s)", source_id, source.kind, f" {source.url}" if source.url else "")
    t0 = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f".{source_id}.", suffix=".acquire", dir=raw_dir))
    try:
        if source.kind in ("youtube", "url"):
            record = _acquire_download(manifest, source, raw_dir, tmp, cfg, progress)
        elif source.kind == "local":
            record = _acquire_local(manifest, source, raw_dir, tmp, cfg)
        elif source.kind == "synthetic":
            record = _acquire_synthetic(manifest, source, raw_dir, tmp, spec, progress)
        else:  # the schema forbids it; kept for a clear message if KINDS grows
            raise InputError(manifest.path, f"unknown source kind {source.kind!r}", source_id)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("%s: done in %.1f s: %s (%dx%d, %d frames at %.3g fps, sha256 %s…)", source_id,
             time.monotonic() - t0, record["raw_file"], record["width"], record["height"],
             record["num_frames"], record["fps"], record["sha256"][:12])
    return record


def write_provenance_table(manifest: Manifest, raw_dir: Path, out_csv: Path) -> pd.DataFrame:
    """Normalised table of every source's provenance record (one row per source), written atomically.

    Nested fields are flattened with dots (``tools.yt_dlp``, ``synthetic_spec.seed``); lists are written as
    JSON. The columns of :data:`TABLE_COLUMNS` come first and always exist; the rest follow sorted.
    """
    raw_dir = Path(raw_dir)
    rows = []
    for sid in manifest.sources:
        path = raw_dir / f"{sid}.provenance.json"
        if not path.is_file():
            raise InputError(manifest.path, f"no provenance record {path} (acquire the source first)", sid)
        try:
            rows.append(read_json(path))
        except json.JSONDecodeError as e:
            raise InputError(path, f"not valid JSON: {e}", sid) from None
    table = pd.json_normalize(rows, sep=".")
    for col in table.columns:
        if table[col].map(lambda v: isinstance(v, list)).any():
            table[col] = table[col].map(lambda v: json.dumps(v) if isinstance(v, list) else v)
    for col in TABLE_COLUMNS:
        if col not in table.columns:
            table[col] = None
    table = table[TABLE_COLUMNS + sorted(c for c in table.columns if c not in TABLE_COLUMNS)]
    with atomic_open(out_csv, "w", newline="", encoding="utf-8") as f:
        table.to_csv(f, index=False)
    log.info("provenance table of %d source(s) -> %s", len(table), out_csv)
    return table


# ----------------------------------------------------------------------------------------------------------
# Shared steps
# ----------------------------------------------------------------------------------------------------------

def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _tools(yt_dlp_version: str | None = None) -> dict[str, str | None]:
    return {"lvg": lvg.__version__, "yt_dlp": yt_dlp_version, "av": av.__version__,
            "python": sys.version.split()[0]}


def _base_record(manifest: Manifest, source: Source) -> dict[str, Any]:
    return {
        "dataset": manifest.dataset, "source_id": source.id, "kind": source.kind, "url": source.url,
        "webpage_url": None, "title": source.title, "uploader": source.uploader, "licence": source.licence,
        "reported_licence": None, "attribution": manifest.attribution or None, "upload_date": None,
        "download_time": None, "format_id": None, "original_ext": None, "remuxed": False,
        "raw_file": f"{source.id}.mp4",
    }


def _remove_stale_temp(raw_dir: Path, source_id: str) -> None:
    """Temporary folders a killed run of this source left behind (``.<id>.XXXXXXXX.acquire``)."""
    pattern = re.compile(rf"^\.{re.escape(source_id)}\.[A-Za-z0-9_]{{8}}\.acquire$")
    for d in raw_dir.iterdir():
        if d.is_dir() and pattern.match(d.name):
            log.info("%s: removing %s left by an interrupted run", source_id, d)
            shutil.rmtree(d, ignore_errors=True)


def _existing_record(manifest: Manifest, source: Source, raw_dir: Path, spec: Any) -> dict | None:
    """The provenance record if the source is done and still matches its manifest entry, else None."""
    prov_path = raw_dir / f"{source.id}.provenance.json"
    if not prov_path.is_file():
        return None
    try:
        record = read_json(prov_path)
    except (OSError, json.JSONDecodeError):
        log.warning("%s: unreadable provenance record %s: acquiring again", source.id, prov_path)
        return None
    video = raw_dir / record.get("raw_file", f"{source.id}.mp4")
    reasons = []
    if not video.is_file():
        reasons.append(f"{video.name} is missing")
    elif video.stat().st_size != record.get("size_bytes"):
        reasons.append(f"{video.name} changed size")
    if record.get("kind") != source.kind:
        reasons.append("the kind changed")
    if source.kind in ("youtube", "url") and record.get("url") != source.url:
        reasons.append("the url changed")
    if source.kind == "local" and record.get("original_path") != str(resolve_local_path(source)):
        reasons.append("the path changed")
    if source.sha256 and source.kind != "synthetic" and record.get("original_sha256") != source.sha256:
        reasons.append("the expected sha256 changed")
    if spec is not None and record.get("synthetic_spec") != spec.to_dict():
        reasons.append("the synthetic spec changed")
    if reasons:
        log.info("%s: existing record is stale (%s): acquiring again", source.id, "; ".join(reasons))
        return None
    return record


_DURATION_TAG = re.compile(r"^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$")


def _declared_length(path: Path) -> tuple[int | None, float | None]:
    """Frame count and video duration the container claims (None where it does not say)."""
    try:
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            frames = int(s.frames) or None
            seconds = None
            if s.duration:
                seconds = float(s.duration * s.time_base)
            elif m := _DURATION_TAG.match(str(s.metadata.get("DURATION", ""))):
                seconds = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
            elif c.duration and len(c.streams) == 1:
                seconds = c.duration / 1_000_000
            return frames, seconds
    except (av.error.FFmpegError, IndexError, ValueError):
        return None, None


def _verify_video(manifest: Manifest, source: Source, path: Path, what: str) -> dict[str, Any]:
    """Decode ``path`` in full; InputError (naming the manifest entry) if it is corrupt or truncated."""
    try:
        info = probe(path, count=True)
    except InputError as e:
        problem = e.problem.replace(str(path), path.name)  # the temporary folder means nothing to a user
        raise InputError(manifest.path, f"{what} is corrupt, truncated or not a video: {problem}",
                         source.id) from None
    frames, seconds = _declared_length(path)
    decoded_s = info.num_frames / info.fps if info.fps else 0.0
    if info.num_frames == 0:
        raise InputError(manifest.path, f"{what} is corrupt or truncated: no frame decodes", source.id)
    # A truncated file can still decode; a few frames of slack for edit lists and rounding, never half a file.
    if frames and info.num_frames < frames - max(2, 0.01 * frames):
        raise InputError(manifest.path, f"{what} is truncated: its container declares {frames} frames, "
                         f"only {info.num_frames} decode", source.id)
    if seconds and decoded_s < seconds - max(3 / info.fps, 0.02 * seconds):
        raise InputError(manifest.path, f"{what} is truncated: its container declares {seconds:.3f} s, "
                         f"only {decoded_s:.3f} s decode", source.id)
    return {"vcodec": info.codec, "container": info.container, "width": info.width, "height": info.height,
            "fps": info.fps, "num_frames": info.num_frames, "duration_s": info.duration_s}


def _publish(raw_dir: Path, source: Source, video: Path, extra: dict[str, Path], record: dict) -> dict:
    """Move the verified files into place, then write the provenance record (the 'done' marker) last."""
    prov_path = raw_dir / f"{source.id}.provenance.json"
    prov_path.unlink(missing_ok=True)  # a stale record must never sit next to a new video
    for name, path in extra.items():
        os.replace(path, raw_dir / name)
    os.replace(video, raw_dir / record["raw_file"])
    write_json(prov_path, record)
    return read_json(prov_path)  # exactly what a later call returns


def _check_sha256(manifest: Manifest, source: Source, digest: str, what: str) -> None:
    if source.sha256 and digest != source.sha256:
        raise InputError(manifest.path, f"sha256 mismatch for {what}: the manifest expects {source.sha256}, "
                         f"the file has {digest}", source.id)


# ----------------------------------------------------------------------------------------------------------
# youtube / url: yt-dlp
# ----------------------------------------------------------------------------------------------------------

class _YtdlpLogger:
    """yt-dlp's ``logger`` interface onto ours: screen messages become INFO, its debug lines DEBUG."""

    def __init__(self, source_id: str) -> None:
        self.prefix = f"{source_id}: yt-dlp: "

    def debug(self, msg: str) -> None:
        if msg.startswith("[debug] "):
            log.debug("%s%s", self.prefix, msg)
        else:
            log.info("%s%s", self.prefix, msg)

    def info(self, msg: str) -> None:
        log.info("%s%s", self.prefix, msg)

    def warning(self, msg: str) -> None:
        log.warning("%s%s", self.prefix, msg)

    def error(self, msg: str) -> None:
        log.error("%s%s", self.prefix, msg)


class _ProgressHook:
    """``progress_hooks`` callback: throttled log lines, plus a tqdm bar when asked for."""

    def __init__(self, source_id: str, progress: bool, every_s: float = 10.0) -> None:
        self.source_id, self.progress, self.every_s = source_id, progress, every_s
        self.bar = None
        self.last_log = float("-inf")

    def __call__(self, d: dict[str, Any]) -> None:
        status = d.get("status")
        done = d.get("downloaded_bytes") or 0
        total = d.get("total_bytes") or d.get("total_bytes_estimate")
        if status == "downloading":
            if self.progress and self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                                desc=self.source_id, disable=None, mininterval=1.0, leave=False)
            if self.bar is not None:
                if total and self.bar.total != total:
                    self.bar.total = total
                self.bar.update(done - self.bar.n)
            now = time.monotonic()
            if now - self.last_log >= self.every_s:
                self.last_log = now
                pct = f" ({100 * done / total:.0f}%)" if total else ""
                speed, eta = d.get("speed"), d.get("eta")
                log.info("%s: downloading %s of %s bytes%s%s%s", self.source_id, done, total or "?", pct,
                         f", {speed / 1e6:.2f} MB/s" if speed else "", f", eta {eta:.0f} s" if eta else "")
        elif status in ("finished", "error"):
            self.close()
            if status == "finished":
                log.info("%s: downloaded %s bytes in %.1f s", self.source_id, done or d.get("total_bytes"),
                         d.get("elapsed") or 0.0)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _backoff(n: int) -> float:
    return min(2.0 ** n, 30.0)


def ytdlp_options(source: Source, tmp: Path, archive: Path, cfg: dict, hook: Any = None) -> dict[str, Any]:
    """The YoutubeDL params for one source (exposed for tests and for reading what a run did)."""
    cfg = {**DEFAULTS, **cfg}
    return {
        "format": cfg["format"],
        "format_sort": list(cfg["format_sort"]),
        "outtmpl": {"default": str(tmp / f"{source.id}.%(ext)s")},
        "download_archive": str(archive),
        "writeinfojson": True,
        "clean_infojson": True,
        "retries": cfg["retries"],
        "fragment_retries": cfg["retries"],
        "extractor_retries": cfg["retries"],
        "retry_sleep_functions": {"http": _backoff, "fragment": _backoff, "extractor": _backoff},
        "socket_timeout": cfg["socket_timeout"],
        "ratelimit": cfg["ratelimit"],
        "sleep_interval_requests": cfg["sleep_interval_requests"],
        "noplaylist": True,
        "restrictfilenames": True,
        "windowsfilenames": True,
        "overwrites": True,
        "updatetime": False,  # mtime = download time (what Snakemake expects)
        "noprogress": True,
        "progress_hooks": [hook] if hook is not None else [],
        "logger": _YtdlpLogger(source.id),
        "color": "no_color",
        "ignoreerrors": False,
        "enable_file_urls": bool(source.url and source.url.startswith("file://")),
    }


def _archive_id_for_url(url: str) -> str | None:
    """The archive line yt-dlp checks before any request (YouTube and others with a temp id; None for generic)."""
    from yt_dlp.extractor import gen_extractor_classes
    from yt_dlp.utils import make_archive_id

    for ie in gen_extractor_classes():
        if ie.suitable(url):
            temp_id = ie.get_temp_id(url)
            return make_archive_id(ie.ie_key(), temp_id) if temp_id else None
    return None


def _forget_archive_id(archive: Path, archive_id: str) -> None:
    """Remove ``archive_id`` from the archive in place, under the same flock yt-dlp takes to append."""
    if not archive.is_file():
        return
    with open(archive, "r+", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            lines = f.read().splitlines()
            kept = [line for line in lines if line.strip() != archive_id]
            if len(kept) != len(lines):
                f.seek(0)
                f.write("".join(line + "\n" for line in kept))
                f.truncate()
                log.info("removed %r from %s", archive_id, archive)
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _ytdlp_message(e: BaseException) -> str:
    msg = _ANSI.sub("", str(e)).strip().removeprefix("ERROR:").strip()
    return re.sub(r"\s*\(caused by .*\)$", "", msg, flags=re.S)  # repeats the message, as a repr


def _run_ytdlp(manifest: Manifest, source: Source, raw_dir: Path, tmp: Path, cfg: dict,
               progress: bool) -> tuple[dict[str, Any], str]:
    """Download ``source.url`` into ``tmp``; return (yt-dlp's info dict, its archive id)."""
    import yt_dlp
    from yt_dlp.utils import YoutubeDLError, make_archive_id

    archive = raw_dir / ARCHIVE_NAME
    for attempt in (1, 2):
        hook = _ProgressHook(source.id, progress)
        opts = ytdlp_options(source, tmp, archive, cfg, hook)
        try:
            with yt_dlp.YoutubeDL(opts) as ydl:
                info = ydl.extract_info(source.url, download=True)
        except YoutubeDLError as e:
            raise InputError(manifest.path, f"cannot download {source.url}: {_ytdlp_message(e)}",
                             source.id) from None
        finally:
            hook.close()
        if info is not None and info.get("_type") == "playlist":
            raise InputError(manifest.path, f"{source.url} is a playlist or a page with several videos; "
                             "give the URL of one video", source.id)
        if info is not None and info.get("requested_downloads"):
            return info, make_archive_id(info["extractor_key"], info["id"])
        # Skipped because download_archive.txt lists it, yet the video is not here: forget and redo.
        archive_id = (make_archive_id(info["extractor_key"], info["id"])
                      if info is not None and info.get("id") and info.get("extractor_key")
                      else _archive_id_for_url(source.url))
        if attempt == 2 or archive_id is None:
            break
        log.info("%s: %s lists %r but the video is missing: downloading again", source.id, ARCHIVE_NAME,
                 archive_id)
        _forget_archive_id(archive, archive_id)
    raise InputError(manifest.path, f"yt-dlp skipped {source.url} as already recorded in {archive}, but "
                     f"{source.id}.mp4 is not there; remove its line from the archive", source.id)


def _acquire_download(manifest: Manifest, source: Source, raw_dir: Path, tmp: Path, cfg: dict,
                      progress: bool) -> dict:
    import yt_dlp

    info, archive_id = _run_ytdlp(manifest, source, raw_dir, tmp, cfg, progress)
    try:
        return _finish_download(manifest, source, raw_dir, tmp, info, archive_id, yt_dlp.version.__version__)
    except BaseException:
        # The archive says "downloaded" as soon as yt-dlp is done; an unusable result must not stay listed.
        _forget_archive_id(raw_dir / ARCHIVE_NAME, archive_id)
        raise


def _finish_download(manifest: Manifest, source: Source, raw_dir: Path, tmp: Path, info: dict,
                     archive_id: str, ytdlp_version: str) -> dict:
    downloaded = Path(info["requested_downloads"][0]["filepath"])
    if not downloaded.is_file():
        raise InputError(manifest.path, f"yt-dlp reported {downloaded.name} but wrote no such file", source.id)
    info_path = tmp / f"{source.id}.info.json"
    meta = read_json(info_path) if info_path.is_file() else {}
    original_ext = downloaded.suffix.lstrip(".").lower()
    original_sha = sha256_file(downloaded)
    _check_sha256(manifest, source, original_sha, f"the download from {source.url}")
    what = f"the video downloaded from {source.url}"
    video = tmp / f"{source.id}.mp4"
    remuxed = original_ext != "mp4"
    if remuxed:
        _verify_video(manifest, source, downloaded, what)
        try:
            remux_to_mp4(downloaded, video)
        except (InputError, av.error.FFmpegError, ValueError) as e:
            raise InputError(manifest.path, f"cannot remux {what} ({original_ext}) to mp4: "
                             f"{getattr(e, 'problem', e)}", source.id) from None
        log.info("%s: remuxed %s -> mp4 (stream copy)", source.id, original_ext)
    stream = _verify_video(manifest, source, video, what)

    version = meta.get("_version")
    tools = _tools(version.get("version") if isinstance(version, dict) else version or ytdlp_version)
    if isinstance(version, dict) and version.get("release_git_head"):
        tools["yt_dlp_git_head"] = version["release_git_head"]
    upload_date = meta.get("upload_date")
    if isinstance(upload_date, str) and re.fullmatch(r"\d{8}", upload_date):
        upload_date = f"{upload_date[:4]}-{upload_date[4:6]}-{upload_date[6:]}"
    record = _base_record(manifest, source)
    record.update(stream)
    record.update({
        "webpage_url": meta.get("webpage_url") or info.get("webpage_url"),
        "title": meta.get("title") or source.title,
        "uploader": meta.get("uploader") or source.uploader,
        "uploader_id": meta.get("uploader_id"),
        "channel_id": meta.get("channel_id"),
        "reported_licence": meta.get("license"),
        "upload_date": upload_date,
        "download_time": _now(),
        "extractor": meta.get("extractor_key") or info.get("extractor_key"),
        "extractor_id": meta.get("id") or info.get("id"),
        "archive_id": archive_id,
        "format_id": meta.get("format_id") or info.get("format_id"),
        "original_ext": original_ext,
        "original_sha256": original_sha,
        "remuxed": remuxed,
        "size_bytes": video.stat().st_size,
        "sha256": original_sha if not remuxed else sha256_file(video),
        "info_file": f"{source.id}.info.json" if meta else None,
        "tools": tools,
    })
    extra = {f"{source.id}.info.json": info_path} if meta else {}
    return _publish(raw_dir, source, video, extra, record)


# ----------------------------------------------------------------------------------------------------------
# local
# ----------------------------------------------------------------------------------------------------------

def _acquire_local(manifest: Manifest, source: Source, raw_dir: Path, tmp: Path, cfg: dict) -> dict:
    original = resolve_local_path(source)
    if not original.is_file():
        raise InputError(manifest.path, f"local file {original} not found", source.id)
    what = f"local file {original}"
    original_sha = sha256_file(original)
    _check_sha256(manifest, source, original_sha, what)
    video = tmp / f"{source.id}.mp4"
    try:
        with av.open(str(original)) as c:
            container = c.format.name
    except (av.error.FFmpegError, ValueError) as e:
        raise InputError(manifest.path, f"{what} is corrupt, truncated or not a video: {e}", source.id) from None
    mode = cfg["local_link"]
    if "mp4" not in container.split(","):
        _verify_video(manifest, source, original, what)
        try:
            remux_to_mp4(original, video)
        except (InputError, av.error.FFmpegError, ValueError) as e:
            raise InputError(manifest.path, f"cannot remux {what} to mp4: {getattr(e, 'problem', e)}",
                             source.id) from None
        mode = "remux"
    elif mode == "hardlink":
        try:
            os.link(original, video)
        except OSError as e:
            log.warning("%s: cannot hard-link %s (%s): copying instead", source.id, original, e)
            mode = "copy"
    elif mode == "symlink":
        os.symlink(original.resolve(), video)
    if mode == "copy":
        shutil.copyfile(original, video)
    stream = _verify_video(manifest, source, video, what)
    remuxed = mode == "remux"
    record = _base_record(manifest, source)
    record.update(stream)
    record.update({
        "url": None,
        "title": source.title or original.name,
        "download_time": _now(),
        "original_path": str(original),
        "original_ext": original.suffix.lstrip(".").lower() or None,
        "original_sha256": original_sha,
        "link": mode,
        "remuxed": remuxed,
        "size_bytes": video.stat().st_size,
        "sha256": sha256_file(video) if remuxed or mode == "copy" else original_sha,
        "tools": _tools(),
    })
    return _publish(raw_dir, source, video, {}, record)


# ----------------------------------------------------------------------------------------------------------
# synthetic
# ----------------------------------------------------------------------------------------------------------

def _synthetic_spec(manifest: Manifest, source: Source) -> Any:
    from lvg.data.synthetic import SyntheticSpec

    try:
        return SyntheticSpec.from_dict(dict(source.synthetic or {}))
    except (ValueError, TypeError) as e:
        problem = str(e).removeprefix("invalid synthetic spec: ")
        raise InputError(manifest.path, f"invalid synthetic spec: {problem}", source.id) from None


def _acquire_synthetic(manifest: Manifest, source: Source, raw_dir: Path, tmp: Path, spec: Any,
                       progress: bool) -> dict:
    from lvg.data.synthetic import render_video

    video = tmp / f"{source.id}.mp4"
    truth_name, world_name = f"{source.id}.truth.json", f"{source.id}.world.csv"
    render_video(spec, video, tmp / truth_name, progress=progress, world_path=tmp / world_name)
    stream = _verify_video(manifest, source, video, "the rendered video")
    record = _base_record(manifest, source)
    record.update(stream)
    record.update({
        "url": None,
        "title": source.title or f"synthetic {source.id}",
        "download_time": _now(),
        "synthetic_spec": spec.to_dict(),
        "truth_file": truth_name,
        "world_file": world_name,  # the state of the world in every frame (lvg.data.synthetic.WORLD_COLUMNS)
        "size_bytes": video.stat().st_size,
        "sha256": sha256_file(video),
        "tools": _tools(),
    })
    return _publish(raw_dir, source, video, {truth_name: tmp / truth_name, world_name: tmp / world_name}, record)
