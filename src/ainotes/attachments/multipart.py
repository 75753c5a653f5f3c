"""multipart/form-data uploads: the one ``file`` part of a form, streamed as it arrives.

python-multipart's low-level parser is fed the body chunk by chunk. Its callbacks are
synchronous, so they only collect slices of the file part; those are handed on after each
chunk. At most one received chunk of the file is held in memory, and nothing is spooled to
disk before it reaches the blob writer.
"""

from collections.abc import AsyncGenerator, AsyncIterable

from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

from ainotes.attachments.errors import MalformedUpload

FORM_DATA = "multipart/form-data"
FILE_FIELD = "file"
# RFC 7578 §4.7 deprecates Content-Transfer-Encoding; only the identity encodings are taken,
# so that base64 text is never stored as if it were the file.
_IDENTITY_ENCODINGS = {"7bit", "8bit", "binary"}


def is_form_data(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == FORM_DATA


def _text(raw: bytes) -> str:
    # Browsers send file names as raw UTF-8 in the quoted parameter; older clients latin-1.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class FormFile:
    """The ``file`` part of a multipart/form-data body.

    Iterate ``chunks()`` to receive its bytes. ``filename`` and ``content_type`` are the part's
    own, known once iteration has finished; the iteration raises ``MalformedUpload`` if the
    body is not a well-formed form with exactly one file part. Other (non-file) fields are
    read past and dropped.
    """

    def __init__(self, content_type: str, body: AsyncIterable[bytes]) -> None:
        _, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if not boundary:
            raise MalformedUpload("The multipart/form-data Content-Type names no boundary.")
        try:
            self._parser = MultipartParser(
                boundary,
                {
                    "on_part_begin": self._on_part_begin,
                    "on_header_field": self._on_header_field,
                    "on_header_value": self._on_header_value,
                    "on_header_end": self._on_header_end,
                    "on_headers_finished": self._on_headers_finished,
                    "on_part_data": self._on_part_data,
                    "on_part_end": self._on_part_end,
                    "on_end": self._on_end,
                },
            )
        except FormParserError as error:
            raise MalformedUpload(f"The multipart boundary is unusable: {error}.") from None
        self._body = body
        self.filename: str | None = None
        self.content_type: str | None = None
        self._headers: dict[str, bytes] = {}
        self._field = bytearray()
        self._value = bytearray()
        self._in_file = False
        self._seen_file = False
        self._ended = False
        self._pending: list[bytes] = []

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        async for received in self._body:
            try:
                self._parser.write(received)
            except FormParserError as error:
                raise MalformedUpload(f"The multipart body is malformed: {error}.") from None
            pending, self._pending = self._pending, []
            for piece in pending:
                yield piece
        if not self._ended:
            raise MalformedUpload("The multipart body ended before its closing boundary.")
        if not self._seen_file:
            raise MalformedUpload(f"The form has no '{FILE_FIELD}' part.")

    # --- parser callbacks (synchronous; they only record) --------------------------------

    def _on_part_begin(self) -> None:
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[self._field.decode("latin-1").strip().lower()] = bytes(self._value)
        self._field.clear()
        self._value.clear()

    def _on_headers_finished(self) -> None:
        disposition, options = parse_options_header(
            self._headers.get("content-disposition", b"").decode("latin-1")
        )
        name = options.get(b"name")
        if disposition != b"form-data" or name is None:
            raise MalformedUpload("A form part has no 'Content-Disposition: form-data; name=…'.")
        if name != FILE_FIELD.encode():
            if b"filename" in options:
                raise MalformedUpload(
                    f"Send one file, in the '{FILE_FIELD}' part; "
                    f"'{_text(name)}' is a file part too."
                )
            return
        if self._seen_file:
            raise MalformedUpload(f"The form has more than one '{FILE_FIELD}' part.")
        encoding = self._headers.get("content-transfer-encoding")
        if encoding is not None and encoding.decode("latin-1").strip().lower() not in (
            _IDENTITY_ENCODINGS
        ):
            raise MalformedUpload("The file part has a Content-Transfer-Encoding; send it as is.")
        self._seen_file = True
        self._in_file = True
        raw_name = options.get(b"filename")
        self.filename = _text(raw_name) if raw_name else None
        declared = self._headers.get("content-type")
        self.content_type = declared.decode("latin-1") if declared is not None else None

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._pending.append(data[start:end])

    def _on_part_end(self) -> None:
        self._in_file = False

    def _on_end(self) -> None:
        self._ended = True
