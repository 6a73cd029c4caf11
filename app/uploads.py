"""Safe handling of uploaded files: size caps, zip inspection, KML entity checks.

Uploads are streamed to a private temporary folder (never held whole in memory) and checked
before any GIS library opens them, because GDAL will happily follow a zip member called
``../../x``, inflate a zip bomb, or resolve an XML external entity in a KML file.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from starlette.datastructures import UploadFile

from zoning.errors import TooLargeError, ZoningError

CHUNK = 1 << 20
MAX_ZIP_MEMBERS = 200
MAX_ZIP_RATIO = 200  # uncompressed / compressed, per member and in total
ALLOWED_SUFFIXES = (".geojson", ".json", ".kml", ".zip", ".gpkg", ".fgb", ".csv", ".xlsx")
_ENTITY = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class UploadError(ZoningError):
    """The uploaded file is unsafe or unusable; the message says which rule it broke."""

    status_code = 422
    code = "invalid_upload"


def safe_name(filename: str | None, allowed: tuple[str, ...] | None = ALLOWED_SUFFIXES) -> str:
    """A file name with no directory part (the original name is untrusted).

    ``allowed`` limits the suffix; ``None`` accepts any (batch inputs are recognised by content).
    """
    name = PurePosixPath((filename or "upload").replace("\\", "/")).name
    suffix = "".join(PurePosixPath(name).suffixes[-1:]).lower()
    if allowed is not None and suffix not in allowed:
        raise UploadError(
            f"file type {suffix or '(none)'} is not accepted",
            field="file",
            hint=f"send one of {', '.join(allowed)}",
        )
    stem = re.sub(r"[^\w.-]", "_", PurePosixPath(name).stem)[:80] or "upload"
    return f"{stem}{suffix}"


def copy_upload(upload: UploadFile, dest: Path, max_bytes: int) -> int:
    """Stream ``upload`` into ``dest`` block by block, refusing it once it passes ``max_bytes``."""
    written = 0
    with open(dest, "wb") as out:
        while chunk := upload.file.read(CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise TooLargeError(
                    f"upload exceeds the limit of {max_bytes:,} bytes",
                    field="file",
                    hint="split the file, or ask the operator to raise ZONING_MAX_UPLOAD_BYTES",
                )
            out.write(chunk)
    if written == 0:
        raise UploadError("the uploaded file is empty", field="file", hint="choose a file with content")
    return written


@contextmanager
def spooled_upload(upload: UploadFile, max_bytes: int, base_dir: Path | None = None) -> Iterator[Path]:
    """Stream ``upload`` into a fresh temporary folder; the folder is removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="zoning-upload-", dir=base_dir))
    try:
        target = folder / safe_name(upload.filename)
        copy_upload(upload, target, max_bytes)
        check_file(target)
        yield target
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def check_file(path: Path) -> None:
    """Refuse files GDAL must not open: unsafe zips and KML/XML with DOCTYPE or ENTITY."""
    suffix = path.suffix.lower()
    if suffix == ".zip":
        check_zip(path)
    elif suffix == ".kml":
        check_xml(path.read_bytes()[: 64 * 1024], path.name)


def check_xml(head: bytes, name: str) -> None:
    if _ENTITY.search(head):
        raise UploadError(
            f"{name} declares a DOCTYPE or ENTITY; external entities are not allowed",
            field="file",
            hint="export the KML again without a DOCTYPE",
        )


def check_zip(path: Path, max_total_bytes: int = 2 * 1024**3) -> list[str]:
    """Validate a zip before GDAL reads it through /vsizip/; returns its member names."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise UploadError(f"{path.name} is not a valid zip file", field="file") from exc
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise UploadError(
                f"{path.name} has {len(members)} entries (limit {MAX_ZIP_MEMBERS})", field="file"
            )
        total = 0
        names = []
        for member in members:
            name = member.filename
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                raise UploadError(
                    f"zip entry {name!r} points outside the archive",
                    field="file",
                    hint="zip the files without directory paths",
                )
            total += member.file_size
            ratio = member.file_size / max(member.compress_size, 1)
            if ratio > MAX_ZIP_RATIO or total > max_total_bytes:
                raise UploadError(
                    f"zip entry {name!r} inflates too much (possible zip bomb)",
                    field="file",
                    hint="send the data uncompressed or in a smaller archive",
                )
            names.append(name)
            if name.lower().endswith(".kml"):
                check_xml(archive.read(member)[: 64 * 1024], name)
        shp = [n for n in names if n.lower().endswith(".shp")]
        for stem in (n[:-4] for n in shp):
            missing = [
                ext
                for ext in (".shx", ".dbf")
                if not any(n.lower() == (stem + ext).lower() for n in names)
            ]
            if missing:
                raise UploadError(
                    f"shapefile {stem}.shp in {path.name} lacks {', '.join(missing)}",
                    field="file",
                    hint="zip all parts of the shapefile (.shp, .shx, .dbf, .prj, .cpg)",
                )
        return names
