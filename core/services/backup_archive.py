"""The backup file itself: a gzip-compressed tar whose first member,
``manifest.json``, lists every other member with its size and SHA-256.

Writing (:func:`write_archive`), reading the manifest alone
(:func:`read_manifest`, cheap: the first member) and checking every member
against it (:func:`verify`, optionally extracting into a staging folder
meanwhile). :mod:`core.services.backup` decides what goes in and what a
restore does with it.
"""
import datetime as dt
import hashlib
import io
import json
import re
import tarfile
from pathlib import Path, PurePosixPath

from ..errors import UserInputError
from ..i18n import _

FORMAT = "keel-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_CHUNK = 1024 * 1024


def digest(path):
    sha, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def write_archive(path, manifest, members, created):
    mtime = created.timestamp()
    with tarfile.open(path, "w:gz", compresslevel=1, format=tarfile.PAX_FORMAT) as tar:
        data = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mtime, info.mode = len(data), mtime, 0o644
        tar.addfile(info, io.BytesIO(data))
        for m in members:
            info = tarfile.TarInfo(m["name"])
            info.size, info.mtime, info.mode = m["size"], mtime, 0o644
            with open(m["path"], "rb") as fh:
                tar.addfile(info, fh)


def _not_a_backup(path, why):
    return UserInputError(_("{path} is not a Keel backup: {why}").format(path=path, why=why))


def _check_manifest(path, manifest):
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _not_a_backup(path, _("its manifest.json is not a Keel backup manifest"))
    for key in ("keel_version", "created_at", "database", "members", "addons"):
        if key not in manifest:
            raise _not_a_backup(path, _("its manifest lacks {key!r}").format(key=key))
    if not isinstance(manifest["members"], list) or not all(
            isinstance(m, dict) and {"name", "size", "sha256"} <= set(m) for m in manifest["members"]):
        raise _not_a_backup(path, _("its manifest's member list is malformed"))
    if int(manifest.get("format_version") or 0) > FORMAT_VERSION:
        raise UserInputError(_("{path}: backup format {version} is newer than this Keel reads; "
                               "upgrade Keel").format(path=path, version=manifest.get("format_version")))
    return manifest


def read_manifest(path):
    """The manifest of the backup file ``path`` (its first member)."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(_("{path}: no such backup file").format(path=path))
    try:
        with tarfile.open(path, "r:gz") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile():
                raise _not_a_backup(path, _("manifest.json is not its first member"))
            manifest = json.loads(tar.extractfile(first).read().decode("utf-8"))
    except (tarfile.TarError, OSError, EOFError, ValueError, UnicodeDecodeError) as exc:
        raise _not_a_backup(path, str(exc) or type(exc).__name__) from None
    return _check_manifest(path, manifest)


def created_at_of(manifest):
    return dt.datetime.fromisoformat(manifest["created_at"].replace("Z", "+00:00")).astimezone(dt.timezone.utc)


def version_key(text):
    """``'1.10.2rc1'`` -> ``(1, 10, 2)``: the numeric release, for comparing."""
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", str(text or ""))
    return tuple(int(p) for p in match.group(1).split(".")) if match else (0,)


def newer(a, b):
    """Is version ``a`` newer than ``b`` (``1.10`` > ``1.9``; ``1.0`` == ``1.0.0``)?"""
    ka, kb = list(version_key(a)), list(version_key(b))
    width = max(len(ka), len(kb))
    return ka + [0] * (width - len(ka)) > kb + [0] * (width - len(kb))


def _member_path(path, name):
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts or "\\" in name:
        raise _not_a_backup(path, _("unsafe member name {name!r}").format(name=name))
    return pure


def verify(path, staging=None):
    """Check every member of the backup ``path`` against its manifest (size
    and SHA-256; nothing missing, nothing extra); with ``staging``, extract
    them there meanwhile. Returns the manifest."""
    path = Path(path)
    manifest = read_manifest(path)
    expected = {m["name"]: m for m in manifest["members"]}
    seen = set()
    try:
        with tarfile.open(path, "r:gz") as tar:
            for index, info in enumerate(tar):
                if index == 0:  # the manifest, read above
                    continue
                want = expected.get(info.name)
                if want is None or info.name in seen:
                    raise _not_a_backup(path, _("member {name!r} is not in its manifest").format(name=info.name))
                if not info.isfile() or info.size != want["size"]:
                    raise UserInputError(_("{path}: member {name} is damaged (size {size}, manifest says "
                                           "{want})").format(path=path, name=info.name, size=info.size,
                                                            want=want["size"]))
                seen.add(info.name)
                out = None
                if staging is not None:
                    dest = Path(staging).joinpath(*_member_path(path, info.name).parts)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    out = open(dest, "wb")
                sha, source = hashlib.sha256(), tar.extractfile(info)
                try:
                    while chunk := source.read(_CHUNK):
                        sha.update(chunk)
                        if out is not None:
                            out.write(chunk)
                finally:
                    if out is not None:
                        out.close()
                if sha.hexdigest() != want["sha256"]:
                    raise UserInputError(_("{path}: checksum mismatch in member {name}: the backup is "
                                           "damaged; nothing was restored").format(path=path, name=info.name))
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        raise UserInputError(_("{path}: the backup is damaged ({error}); nothing was restored")
                             .format(path=path, error=str(exc) or type(exc).__name__)) from None
    missing = sorted(set(expected) - seen)
    if missing:
        raise UserInputError(_("{path}: member {name} is missing; nothing was restored")
                             .format(path=path, name=missing[0]))
    return manifest
