"""Web chat photo uploads: images only (by their bytes), within the limit, under our own name."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.web.uploads import UploadRefused, image_type, save_photo
from tests.bot.citizen import tiny_png


@pytest.mark.parametrize("head,expected", [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
    (tiny_png()[:12], "image/png"),
    (b"GIF89a\x01\x00\x01\x00\x00\x00", "image/gif"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"<svg xmlns=", None),
    (b"<!doctype html>", None),
    (b"%PDF-1.7\n", None),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),
    (b"", None),
])
def test_only_images_browsers_show_pass(head, expected):
    kind = image_type(head)
    assert (kind[0] if kind else None) == expected


def test_a_photo_is_saved_under_a_generated_name(tmp_path: Path):
    saved = save_photo(io.BytesIO(tiny_png()), tmp_path / "web", 1024)
    assert saved.path.parent == tmp_path / "web" and saved.path.suffix == ".png"
    assert saved.path.read_bytes() == tiny_png() and saved.size == len(tiny_png())
    other = save_photo(io.BytesIO(tiny_png()), tmp_path / "web", 1024)
    assert other.path != saved.path


@pytest.mark.parametrize("data,status,needle", [
    (tiny_png() + b"\0" * 2048, 413, "larger than 2 KB"),
    (b"", 400, "empty"),
    (b"hello, not a picture", 400, "JPEG, PNG, GIF or WebP"),
])
def test_refused_uploads_save_nothing(tmp_path: Path, data: bytes, status: int, needle: str):
    with pytest.raises(UploadRefused) as refused:
        save_photo(io.BytesIO(data), tmp_path / "web", 2048)
    assert refused.value.status == status and needle in refused.value.message
    assert not (tmp_path / "web").exists() or list((tmp_path / "web").iterdir()) == []
