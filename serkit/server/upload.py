"""Read the audio of a request: a multipart upload (field ``file``) or the raw body.

The size limit is enforced twice: from Content-Length before anything is read, and by
counting bytes while reading, so a missing or lying header cannot get a larger body in.
The audio stays in memory as bytes; the recognizer decodes it from there and names it by
the client's file name, so no error message can mention a server-side path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect

from serkit.server.errors import ApiError

#: Content types accepted for a raw body (the decoder sniffs the real format itself).
RAW_AUDIO_TYPES = ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "audio/flac",
                   "audio/x-flac", "audio/ogg", "audio/mpeg", "application/octet-stream")
MULTIPART = "multipart/form-data"
#: What error messages call a raw body, which has no file name.
RAW_BODY_NAME = "upload"


@dataclass(frozen=True)
class Upload:
    data: bytes
    name: str  # how error messages refer to it: the client's file name, or "upload"


async def read_upload(request: Request, max_bytes: int) -> Upload:
    """The audio bytes of ``request``, at most ``max_bytes`` of body.

    Raises:
        ApiError: 413 body over the limit, 415 unsupported content type, 400 malformed
            multipart, no ``file`` field or nothing uploaded.
    """
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != MULTIPART and media_type not in RAW_AUDIO_TYPES:
        raise _unsupported(media_type)
    declared = _content_length(request)
    if declared is not None and declared > max_bytes:
        raise _too_large(max_bytes)
    body = _limited(request.stream(), max_bytes)
    try:
        upload = await (_read_multipart(request, body, max_bytes) if media_type == MULTIPART
                        else _read_raw(body))
    except ClientDisconnect:
        raise ApiError(400, "client_disconnected", "the client closed the connection "
                       "before the upload was complete; send it again") from None
    if not upload.data:
        raise ApiError(400, "empty_body", f"{upload.name}: the upload is empty (0 bytes); "
                       "send the contents of an audio file (wav, flac or ogg)")
    return upload


async def _read_raw(body: AsyncIterator[bytes]) -> Upload:
    data = bytearray()
    async for chunk in body:
        data += chunk
    return Upload(bytes(data), RAW_BODY_NAME)


async def _read_multipart(request: Request, body: AsyncIterator[bytes], max_bytes: int) -> Upload:
    parser = MultiPartParser(request.headers, body, max_files=1, max_fields=16)
    # Keep the file in memory (it is decoded from bytes) instead of spooling it to disk.
    parser.spool_max_size = max_bytes
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise ApiError(400, "bad_multipart", f"the multipart body cannot be read ({exc.message}); "
                       "send one audio file in the form field 'file'") from None
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise ApiError(400, "missing_file", "the multipart upload has no file in the form "
                           "field 'file'; send it as e.g. curl -F file=@clip.wav")
        return Upload(await file.read(), _safe_name(file.filename))
    finally:
        await form.close()


async def _limited(stream: AsyncIterator[bytes], max_bytes: int) -> AsyncIterator[bytes]:
    received = 0
    async for chunk in stream:
        received += len(chunk)
        if received > max_bytes:
            raise _too_large(max_bytes)
        yield chunk


def _content_length(request: Request) -> int | None:
    try:
        return int(request.headers["content-length"])
    except (KeyError, ValueError):
        return None


def _safe_name(filename: str | None) -> str:
    """The client's file name without any folders (clients may send a full local path)."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name.strip()
    return name[:120] or RAW_BODY_NAME


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(413, "upload_too_large",
                    f"the upload is larger than this server's {max_bytes / 2**20:g} MB limit; "
                    "send a shorter clip or a compressed one (flac, ogg)")


def _unsupported(media_type: str) -> ApiError:
    given = f"Content-Type {media_type!r}" if media_type else "no Content-Type"
    return ApiError(415, "unsupported_media_type",
                    f"{given} is not accepted; send the audio as a multipart upload in the form "
                    "field 'file', or as the raw body with Content-Type audio/wav, audio/flac, "
                    "audio/ogg or application/octet-stream")
