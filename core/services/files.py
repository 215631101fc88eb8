"""Attachment content on disk, by content hash (issue 6 point 8).

Every file lives once under one root (config ``files_dir``, else
``<data_dir>/files``) at ``root/ab/cd/<sha256>``; ``core.attachment`` rows
keep its name, type, size and hash. A file is written (temporary name,
fsync, atomic rename) *before* its row is inserted, so a committed row
always finds its file; a rolled-back transaction leaves an unreferenced
file that :func:`collect_garbage` (the daily job ``core.files.gc``) removes
once it is older than a day and neither an attachment nor a recycle-bin
entry names it. Backups copy the whole root as it is.

The type of a file is decided by its content (:func:`sniff`), never by its
name: see ``docs/files.md`` for the families allowed.
"""
import datetime as dt
import hashlib
import os
import re
import tempfile
from pathlib import Path

import filetype
import sqlalchemy as sa

from ..errors import UserInputError
from ..i18n import _

#: unreferenced files younger than this survive the garbage collection
GRACE = dt.timedelta(days=1)
_HASH = re.compile(r"^[0-9a-f]{64}$")


def root(config):
    """The folder holding every attachment file (not created here)."""
    value = getattr(config, "files_dir", "") or os.path.join(getattr(config, "data_dir", "") or "var",
                                                            "files")
    return Path(value).resolve()


def config_of(env):
    """The configuration of a unit of work: ``context["config"]`` (a job, a
    test), else the running web application's, else the process's."""
    config = env.context.get("config")
    if config is not None:
        return config
    try:
        from flask import current_app, has_app_context
        if has_app_context() and "keel.config" in current_app.extensions:
            return current_app.extensions["keel.config"]
    except ImportError:  # pragma: no cover
        pass
    from ..config import load_config
    return load_config()


def path_of(config, checksum):
    """Where the file of ``checksum`` lives."""
    if not _HASH.match(checksum or ""):
        raise UserInputError(f"file: bad checksum {checksum!r}")
    return root(config) / checksum[:2] / checksum[2:4] / checksum


# -- type by content ---------------------------------------------------------------------------
#: extension → the content families it may hold
_ZIP_BASED = {"docx", "xlsx", "pptx", "odt", "ods", "odp", "zip", "jar"}
_TEXT_EXT = {"txt", "csv", "tsv", "md", "log", "json", "xml", "ini", "yaml", "yml", "eml", "vcf",
             "ics", "rtf"}
_SCRIPT_EXT = {"exe", "dll", "com", "bat", "cmd", "sh", "ps1", "vbs", "js", "msi", "scr", "jar",
               "apk", "app", "elf", "bin", "py", "pl", "php", "jsp", "asp", "aspx", "hta"}
_MARKUP_EXT = {"html", "htm", "svg", "xhtml", "xml"}
_ALLOWED_KINDS = ("image/", "application/pdf", "application/zip", "application/x-7z",
                  "application/x-rar", "application/gzip", "application/x-bzip2", "application/x-xz",
                  "application/x-tar", "application/msword", "application/vnd.ms-", "application/rtf",
                  "application/vnd.openxmlformats", "application/vnd.oasis", "audio/", "video/")
_EXECUTABLE = ("application/x-msdownload", "application/x-executable", "application/x-mach-binary",
               "application/x-sharedlib", "application/x-elf", "application/vnd.microsoft.portable-executable",
               "application/x-dex", "application/java-archive", "application/x-shockwave-flash")
_MAGIC_EXEC = (b"\x7fELF", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe",
               b"\xcf\xfa\xed\xfe", b"#!")
_ACTIVE = re.compile(rb"<\s*script|javascript:|\son[a-z]+\s*=|<\s*iframe|<\s*object|<\s*embed",
                     re.IGNORECASE)
_OFFICE = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
           "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
           "odt": "application/vnd.oasis.opendocument.text",
           "ods": "application/vnd.oasis.opendocument.spreadsheet",
           "odp": "application/vnd.oasis.opendocument.presentation"}
_TEXT_TYPES = {"csv": "text/csv", "tsv": "text/tab-separated-values", "json": "application/json",
               "xml": "text/xml", "md": "text/markdown", "html": "text/html", "htm": "text/html",
               "svg": "image/svg+xml", "ics": "text/calendar", "vcf": "text/vcard", "rtf": "application/rtf"}


def _text(data):
    """Is ``data`` text (UTF-8, UTF-16 with BOM, or GBK), without NUL bytes?"""
    head = data[:65536]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    if b"\x00" in head:
        return False
    for encoding in ("utf-8", "gb18030"):
        try:
            head.decode(encoding)
            return True
        except UnicodeDecodeError as exc:
            if encoding == "utf-8" and exc.start >= len(head) - 4 and len(data) > len(head):
                return True  # a character cut at the end of the sample
    return False


def sniff(name, data):
    """The mimetype of ``data`` decided by its content, or ``UserInputError``
    naming the file when the content is an executable or a script, or
    contradicts the extension of ``name``."""
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    refuse = _("{name}: executables and scripts may not be attached").format(name=name)
    if data.startswith(_MAGIC_EXEC) or ext in _SCRIPT_EXT:
        raise UserInputError(refuse, {"fields": ["file"], "file": name})
    kind = filetype.guess(data[:8192])
    if kind is not None:
        mime = kind.mime
        if mime in _EXECUTABLE:
            raise UserInputError(refuse, {"fields": ["file"], "file": name})
        if mime == "application/zip" and ext in _OFFICE:
            return _OFFICE[ext]
        if mime.startswith(("application/vnd.openxmlformats", "application/vnd.oasis")) \
                and ext == "zip":
            return "application/zip"
        if mime in ("application/zip", "application/x-zip-compressed") and ext in _ZIP_BASED:
            return mime
        if mime.startswith("application/vnd.openxmlformats") and ext in _OFFICE:
            return _OFFICE[ext]
        if mime == "application/x-ole-storage" and ext in {"doc", "xls", "ppt", "msg"}:
            return {"doc": "application/msword", "xls": "application/vnd.ms-excel",
                    "ppt": "application/vnd.ms-powerpoint"}.get(ext, "application/vnd.ms-outlook")
        if not mime.startswith(_ALLOWED_KINDS):
            raise UserInputError(_("{name}: files of type {type} may not be attached")
                                 .format(name=name, type=mime), {"fields": ["file"], "file": name})
        if ext and ext not in set(kind.extension.split()) | _aliases(kind.extension) \
                and not (mime == "application/zip" and ext in _ZIP_BASED):
            raise UserInputError(
                _("{name}: the content is {type}, not what the name's .{ext} says")
                .format(name=name, type=mime, ext=ext), {"fields": ["file"], "file": name})
        return mime
    if _text(data):
        if data.lstrip()[:2] == b"#!":
            raise UserInputError(refuse, {"fields": ["file"], "file": name})
        if ext in _MARKUP_EXT and _ACTIVE.search(data):
            raise UserInputError(_("{name}: the file holds a script").format(name=name),
                                 {"fields": ["file"], "file": name})
        if ext and ext not in _TEXT_EXT | _MARKUP_EXT:
            raise UserInputError(
                _("{name}: the content is text, not what the name's .{ext} says").format(name=name, ext=ext),
                {"fields": ["file"], "file": name})
        return _TEXT_TYPES.get(ext, "text/plain")
    raise UserInputError(_("{name}: the type of the content is not one that may be attached")
                         .format(name=name), {"fields": ["file"], "file": name})


def _aliases(ext):
    return {"jpg": {"jpeg", "jpe", "jfif"}, "tif": {"tiff"}, "mp4": {"m4v"}, "gz": {"tgz"},
            "heic": {"heif"}}.get(ext, set())


# -- storing -----------------------------------------------------------------------------------
def store(config, data):
    """Write ``data`` under the root unless it is there already; its sha256.
    Written to a temporary name, synced, then renamed into place."""
    checksum = hashlib.sha256(data).hexdigest()
    target = path_of(config, checksum)
    if target.exists() and target.stat().st_size == len(data):
        os.utime(target)  # fresh again: the garbage collection spares it a day more
        return checksum
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".upload-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, target)
    except BaseException:
        with _quiet():
            os.unlink(temp)
        raise
    with _quiet():
        dirfd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)
    return checksum


class _quiet:
    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        return kind is not None and issubclass(kind, OSError)


def read(config, checksum):
    """The bytes of the file of ``checksum``; ``None`` when it is missing."""
    try:
        return path_of(config, checksum).read_bytes()
    except FileNotFoundError:
        return None


# -- garbage collection ------------------------------------------------------------------------
def referenced(env):
    """Every checksum that an attachment or a recycle-bin entry names."""
    registry = env.registry
    found = set()
    table = registry["core.attachment"].table
    found.update(c for (c,) in env.conn.execute(sa.select(table.c.checksum).distinct()) if c)
    if "core.trash" in registry.models:
        trash = registry["core.trash"].table
        for (text,) in env.conn.execute(sa.select(trash.c.files).where(trash.c.files.is_not(None))):
            found.update((text or "").split())
    return found


def collect_garbage(env, now=None):
    """Remove files (and leftover temporary files) older than :data:`GRACE`
    that nothing references; the number removed. The job ``core.files.gc``."""
    base = root(config_of(env))
    if not base.is_dir():
        return 0
    limit = ((now or dt.datetime.now()) - GRACE).timestamp()
    keep = referenced(env)
    removed = 0
    for folder, _dirs, names in os.walk(base):
        for fname in names:
            path = Path(folder) / fname
            if fname in keep or not (_HASH.match(fname) or fname.startswith(".upload-")):
                continue
            with _quiet():
                if path.stat().st_mtime < limit:
                    path.unlink()
                    removed += 1
    for folder in sorted((f for f, _d, _n in os.walk(base)), reverse=True):
        if Path(folder) != base:
            with _quiet():
                os.rmdir(folder)  # only when empty
    return removed


def gc_job(env):
    """The daily job: :func:`collect_garbage` in the system context."""
    return collect_garbage(env)
