"""Export archives in a local directory (``ArchiveStore``): ``<data_dir>/exports/``.

Each archive is a zip of the files it is given, written to a temporary name and renamed,
so a download never sees half an archive. A deployment with several machines moves
archives to shared object storage by implementing the same three methods.
"""

from __future__ import annotations

import asyncio
import io
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

from core.safety.data import check_archive_name


class LocalArchiveStore:
    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def _path(self, name: str) -> Path:
        return self._folder / check_archive_name(name)

    async def write(self, name: str, files: Mapping[str, bytes]) -> int:
        path = self._path(name)

        def write() -> int:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for file, content in files.items():
                    archive.writestr(file, content)
            data = buffer.getvalue()
            self._folder.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            partial.replace(path)
            return len(data)

        return await asyncio.to_thread(write)

    async def read(self, name: str) -> bytes | None:
        path = self._path(name)

        def read() -> bytes | None:
            try:
                return path.read_bytes()
            except FileNotFoundError:
                return None

        return await asyncio.to_thread(read)

    async def delete(self, name: str) -> None:
        await asyncio.to_thread(self._path(name).unlink, missing_ok=True)
