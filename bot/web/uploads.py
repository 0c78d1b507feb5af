"""Photos citizens upload on the web chat: checked, then saved like other channels' media.

Only images pass, judged by their first bytes (a declared ``image/png`` proves nothing), within
``server.max_photo_kb``. The file is saved under ``storage.media_dir/web/`` with a name we
generate; the name the citizen's device gave it is kept only as text on the message.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

#: (first bytes, content type, extension) of the image types the chat accepts: the ones every
#: browser shows. SVG is not among them (it can carry scripts), nor HEIC (few browsers show it).
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"GIF87a", "image/gif", ".gif"),
    (b"GIF89a", "image/gif", ".gif"),
)
IMAGE_TYPES = frozenset(t for _, t, _ in SIGNATURES) | {"image/webp"}


class UploadRefused(Exception):
    """The upload is not accepted; ``status`` (400 or 413) and the message go to the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class SavedPhoto:
    path: Path
    content_type: str
    size: int


def image_type(head: bytes) -> tuple[str, str] | None:
    """(content type, extension) of an image the chat accepts, from its first 12 bytes."""
    for magic, content_type, ext in SIGNATURES:
        if head.startswith(magic):
            return content_type, ext
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", ".webp"
    return None


def save_photo(stream: IO[bytes], directory: Path, limit_bytes: int) -> SavedPhoto:
    """Check an uploaded photo and save it under ``directory`` with a generated name.

    Raises:
        UploadRefused: Too large (413), empty or not an image (400); nothing is saved.
    """
    data = stream.read(limit_bytes + 1)
    if len(data) > limit_bytes:
        raise UploadRefused(413, f"the photo is larger than {limit_bytes // 1024} KB")
    if not data:
        raise UploadRefused(400, "the photo is empty")
    kind = image_type(data[:12])
    if kind is None:
        raise UploadRefused(400, "the photo must be a JPEG, PNG, GIF or WebP image")
    content_type, ext = kind
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{uuid.uuid4().hex}{ext}"
    with open(path, "xb") as out:      # "x": a generated name never overwrites anything
        out.write(data)
    return SavedPhoto(path, content_type, len(data))
