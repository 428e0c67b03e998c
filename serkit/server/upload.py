"""Read the audio of a request: a multipart upload (field ``file``) or the raw body; or,
for a batch, a multipart upload of several files (field ``files``, repeated).

The size limit is enforced twice: from Content-Length before anything is read, and by
counting bytes while reading, so a missing or lying header cannot get a larger body in.
A batch has a limit for its whole body (so its memory is bounded as a single upload's is),
one on its number of files, and each of its files has the single upload's limit.
The audio stays in memory as bytes; the recognizer decodes it from there and names it by
the client's file name, so no error message can mention a server-side path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect

from serkit.server.errors import ApiError

#: Content types accepted for a raw body (the decoder sniffs the real format itself).
RAW_AUDIO_TYPES = ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "audio/flac",
                   "audio/x-flac", "audio/ogg", "audio/mpeg", "application/octet-stream")
MULTIPART = "multipart/form-data"
#: What error messages call a raw body, which has no file name.
RAW_BODY_NAME = "upload"
#: The form field of a batch's files, one file per occurrence.
BATCH_FIELD = "files"
#: Form fields that are not files, at most, in any multipart upload.
MAX_FORM_FIELDS = 16


@dataclass(frozen=True)
class Upload:
    data: bytes
    name: str  # how error messages refer to it: the client's file name, or "upload"
    #: Why this file of a batch cannot be used (over the size limit, empty, not a file),
    #: its data then empty; None for a usable one. A single upload raises instead.
    error: ApiError | None = None


async def read_upload(request: Request, max_bytes: int) -> Upload:
    """The audio bytes of ``request``, at most ``max_bytes`` of body.

    Raises:
        ApiError: 413 body over the limit, 415 unsupported content type, 400 malformed
            multipart, no ``file`` field or nothing uploaded.
    """
    media_type = _media_type(request)
    if media_type != MULTIPART and media_type not in RAW_AUDIO_TYPES:
        raise _unsupported(media_type)
    too_large = _too_large(max_bytes)
    declared = _content_length(request)
    if declared is not None and declared > max_bytes:
        raise too_large
    body = _limited(request.stream(), max_bytes, too_large)
    try:
        upload = await (_read_multipart(request, body, max_bytes) if media_type == MULTIPART
                        else _read_raw(body))
    except ClientDisconnect:
        raise _disconnected() from None
    if not upload.data:
        raise _empty(upload.name)
    return upload


async def read_uploads(request: Request, *, max_file_bytes: int, max_total_bytes: int,
                       max_files: int) -> list[Upload]:
    """The files of a batch request: a multipart upload, one file per ``files`` field.

    The body is limited to ``max_total_bytes`` (from Content-Length, then by counting while
    reading) and to ``max_files`` files (files in other fields count too; other fields
    are ignored). One Upload per value of the ``files`` field, in the order sent: a file
    over ``max_file_bytes``, an empty one or a value that is not a file comes back with its
    ``error`` set and no data, so that the rest of the batch goes on.

    Raises:
        ApiError: 413 body over the limit or too many files, 415 not multipart, 400
            malformed multipart or no file in the ``files`` field.
    """
    media_type = _media_type(request)
    if media_type != MULTIPART:
        given = f"Content-Type {media_type!r}" if media_type else "no Content-Type"
        raise ApiError(415, "unsupported_media_type",
                       f"{given} is not accepted here; send the clips as a multipart upload, "
                       f"one file per form field '{BATCH_FIELD}' "
                       f"(curl -F {BATCH_FIELD}=@a.wav -F {BATCH_FIELD}=@b.wav)")
    too_large = ApiError(
        413, "upload_too_large",
        f"the request is larger than this server's {max_total_bytes / 2**20:g} MB limit for "
        "a batch; send the clips in several requests, or compressed ones (flac, ogg)")
    declared = _content_length(request)
    if declared is not None and declared > max_total_bytes:
        raise too_large
    too_many = ApiError(413, "too_many_files",
                        f"the request has more than {max_files} files, this server's limit for "
                        "one batch; send the clips in several requests")
    # Every file stays in memory (they are decoded from bytes), bounded by the body limit.
    parser = MultiPartParser(request.headers, _limited(request.stream(), max_total_bytes, too_large),
                             max_files=max_files, max_fields=MAX_FORM_FIELDS)
    parser.spool_max_size = max_total_bytes
    try:
        form = await _parse(parser, f"send each clip as a file in the form field '{BATCH_FIELD}'",
                            too_many=too_many)
    except ClientDisconnect:
        raise _disconnected() from None
    try:
        values = form.getlist(BATCH_FIELD)
        if not any(isinstance(value, UploadFile) for value in values):
            raise ApiError(400, "missing_files",
                           f"the multipart upload has no file in the form field '{BATCH_FIELD}'; "
                           f"send each clip in one, e.g. curl -F {BATCH_FIELD}=@a.wav "
                           f"-F {BATCH_FIELD}=@b.wav")
        uploads = []
        for i, value in enumerate(values):
            position = f"{BATCH_FIELD}[{i}]"
            uploads.append(await _batch_file(value, position, max_file_bytes)
                           if isinstance(value, UploadFile) else _not_a_file(position))
        return uploads
    finally:
        await form.close()


def _not_a_file(position: str) -> Upload:
    """A value of the ``files`` field sent as text, not as a file: its own error entry, so
    that every value has its place in the answer."""
    return Upload(b"", position, ApiError(
        400, "missing_file", f"{position}: this value of the form field '{BATCH_FIELD}' is not "
        f"a file (it has no filename); send each clip as a file, e.g. curl -F {BATCH_FIELD}=@a.wav"))


async def _batch_file(file: UploadFile, position: str, max_bytes: int) -> Upload:
    """One file of a batch; closed once read, so that it is not held twice meanwhile."""
    name = _safe_name(file.filename, fallback=position)
    try:
        if file.size is not None and file.size > max_bytes:
            return Upload(b"", name, _file_too_large(name, max_bytes))
        data = await file.read()
    finally:
        await file.close()
    if len(data) > max_bytes:
        return Upload(b"", name, _file_too_large(name, max_bytes))
    return Upload(data, name, None if data else _empty(name))


async def _read_raw(body: AsyncIterator[bytes]) -> Upload:
    data = bytearray()
    async for chunk in body:
        data += chunk
    return Upload(bytes(data), RAW_BODY_NAME)


async def _read_multipart(request: Request, body: AsyncIterator[bytes], max_bytes: int) -> Upload:
    parser = MultiPartParser(request.headers, body, max_files=1, max_fields=MAX_FORM_FIELDS)
    # Keep the file in memory (it is decoded from bytes) instead of spooling it to disk.
    parser.spool_max_size = max_bytes
    form = await _parse(parser, "send one audio file in the form field 'file'")
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise ApiError(400, "missing_file", "the multipart upload has no file in the form "
                           "field 'file'; send it as e.g. curl -F file=@clip.wav")
        return Upload(await file.read(), _safe_name(file.filename))
    finally:
        await form.close()


async def _parse(parser: MultiPartParser, hint: str, *, too_many: ApiError | None = None) -> FormData:
    try:
        return await parser.parse()
    except MultiPartException as exc:
        # Starlette says so when a file beyond max_files starts (before it is read).
        if too_many is not None and exc.message.startswith("Too many files"):
            raise too_many from None
        raise ApiError(400, "bad_multipart", f"the multipart body cannot be read ({exc.message}); "
                       f"{hint}") from None


async def _limited(stream: AsyncIterator[bytes], max_bytes: int,
                   too_large: ApiError) -> AsyncIterator[bytes]:
    received = 0
    async for chunk in stream:
        received += len(chunk)
        if received > max_bytes:
            raise too_large
        yield chunk


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _content_length(request: Request) -> int | None:
    try:
        return int(request.headers["content-length"])
    except (KeyError, ValueError):
        return None


def _safe_name(filename: str | None, fallback: str = RAW_BODY_NAME) -> str:
    """The client's file name without any folders (clients may send a full local path)."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name.strip()
    return name[:120] or fallback


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(413, "upload_too_large",
                    f"the upload is larger than this server's {max_bytes / 2**20:g} MB limit; "
                    "send a shorter clip or a compressed one (flac, ogg)")


def _file_too_large(name: str, max_bytes: int) -> ApiError:
    return ApiError(413, "upload_too_large",
                    f"{name}: the file is larger than this server's {max_bytes / 2**20:g} MB limit "
                    "per clip; send a shorter clip or a compressed one (flac, ogg)")


def _empty(name: str) -> ApiError:
    return ApiError(400, "empty_body", f"{name}: the upload is empty (0 bytes); "
                    "send the contents of an audio file (wav, flac or ogg)")


def _disconnected() -> ApiError:
    return ApiError(400, "client_disconnected", "the client closed the connection before the "
                    "upload was complete; send it again")


def _unsupported(media_type: str) -> ApiError:
    given = f"Content-Type {media_type!r}" if media_type else "no Content-Type"
    return ApiError(415, "unsupported_media_type",
                    f"{given} is not accepted; send the audio as a multipart upload in the form "
                    "field 'file', or as the raw body with Content-Type audio/wav, audio/flac, "
                    "audio/ogg or application/octet-stream")
