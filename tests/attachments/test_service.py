"""Rules that are easier to pin down below HTTP: reference parsing, ranges, sniffing, storage."""

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ainotes.attachments import service as attachments_service
from ainotes.attachments.errors import (
    AttachmentContentMissing,
    AttachmentTooLarge,
    MalformedUpload,
)
from ainotes.attachments.headers import ByteRange, UnsatisfiableRange, parse_range
from ainotes.attachments.multipart import FormFile
from ainotes.attachments.sniffing import served_type, sniff
from ainotes.attachments.storage import BlobMissing, LocalBlobStore
from ainotes.auth.service import user_principal
from ainotes.core.db import Database
from ainotes.workspaces.models import Role
from ainotes.workspaces.service import WorkspaceAccess
from tests.factories import Factory

pytestmark = pytest.mark.anyio


def files_under(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file()]


A = "01JD5Z8V0000000000000000AA"
B = "01JD5Z8V0000000000000000BB"


class TestReferencedIds:
    def test_images_links_and_definitions_in_order_without_duplicates(self) -> None:
        body = (
            f'Intro [doc](attachment:{B}) and ![chart](<attachment:{A}> "Chart").\n'
            f"Again ![again](attachment:{B})\n"
            f"[ref]: attachment:{A}\n"
        )
        assert attachments_service.referenced_ids(body) == [B, A]

    def test_code_spans_and_fenced_blocks_are_not_references(self) -> None:
        body = f"`![x](attachment:{A})`\n```\n[y](attachment:{B})\n```\nplain attachment:{A}"
        assert attachments_service.referenced_ids(body) == []

    def test_malformed_ids_are_ignored(self) -> None:
        assert attachments_service.referenced_ids("[x](attachment:../../etc/passwd)") == []


class TestParseRange:
    @pytest.mark.parametrize(
        ("header", "expected"),
        [
            (None, None),
            ("bytes=0-9", ByteRange(0, 9)),
            ("bytes=-10", ByteRange(90, 99)),
            ("bytes=-500", ByteRange(0, 99)),
            ("bytes=95-", ByteRange(95, 99)),
            ("bytes=90-1000", ByteRange(90, 99)),
            ("items=0-1", None),
            ("bytes=0-1,4-5", None),
        ],
    )
    def test_satisfiable_or_ignored(self, header: str | None, expected: ByteRange | None) -> None:
        assert parse_range(header, 100) == expected

    @pytest.mark.parametrize(
        "header", ["bytes=100-", "bytes=-0", "bytes=5-2", "bytes=-", "bytes=a-b"]
    )
    def test_unsatisfiable(self, header: str) -> None:
        with pytest.raises(UnsatisfiableRange):
            parse_range(header, 100)


class TestSniffing:
    @pytest.mark.parametrize(
        ("head", "expected"),
        [
            (b"\x89PNG\r\n\x1a\n....", "image/png"),
            (b"\xff\xd8\xff\xe0", "image/jpeg"),
            (b"GIF89a..", "image/gif"),
            (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
            (b"%PDF-1.4", "application/pdf"),
            (b"PK\x03\x04rest", "application/zip"),
            (b"ID3\x03", "audio/mpeg"),
            (b"\x00\x00\x00\x18ftypmp42", "video/mp4"),
            (b"\x00\x00\x00\x18ftypM4A ", "audio/mp4"),
            ("naïve text\n".encode(), "text/plain"),
            ("cut é".encode()[:-1], "text/plain"),
            (b"\x00\x01\x02\x03binary", None),
            (b"", None),
        ],
    )
    def test_magic_numbers(self, head: bytes, expected: str | None) -> None:
        assert sniff(head) == expected

    def test_office_documents_keep_their_declared_type(self) -> None:
        docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        assert served_type(docx, "application/zip") == docx
        assert served_type("text/html", "application/zip") == "application/zip"

    def test_unknown_bytes_keep_an_inert_declared_type_only(self) -> None:
        assert served_type("application/vnd.sqlite3", None) == "application/vnd.sqlite3"
        assert served_type("image/svg+xml", None) == "application/octet-stream"
        assert served_type(None, None) == "application/octet-stream"


class TestLocalBlobStore:
    async def test_failed_stream_leaves_no_partial_blob(self, tmp_path: Path) -> None:
        store = LocalBlobStore(tmp_path)

        async def failing() -> AsyncIterator[bytes]:
            yield os.urandom(10)
            raise OSError("connection lost")

        with pytest.raises(OSError, match="connection lost"):
            await store.put_stream(failing())
        assert files_under(tmp_path) == []

    async def test_put_then_read_a_range_then_delete(self, tmp_path: Path) -> None:
        store = LocalBlobStore(tmp_path)
        data = os.urandom(3 * 1024 * 1024 + 7)

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(data), 65536):
                yield data[start : start + 65536]

        info = await store.put_stream(chunks())
        assert info.key == hashlib.sha256(data).hexdigest()
        assert info.size == len(data)
        assert await store.exists(info.key)
        read = b"".join([c async for c in await store.open_range(info.key, 5, len(data) - 1)])
        assert read == data[5:]
        await store.delete(info.key)
        assert not await store.exists(info.key)
        with pytest.raises(BlobMissing):
            await store.open_range(info.key, 0, 0)

    def test_keys_that_are_not_digests_never_become_paths(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="sha256"):
            LocalBlobStore(tmp_path).path_for("../../etc/passwd")

    async def test_lists_committed_blobs_only(self, tmp_path: Path) -> None:
        store = LocalBlobStore(tmp_path)
        stored = {}
        for size in (0, 10, 70_000):
            data = os.urandom(size)
            info = await store.put_stream(_one(data))
            stored[info.key] = size
        in_flight = await store.open_writer()
        await in_flight.write(b"not yet committed")
        # Files this store did not name are not blobs, and never reported (nor swept).
        (tmp_path / "ab" / "cd").mkdir(parents=True)
        (tmp_path / "ab" / "cd" / ("ab" + "0" * 62)).write_bytes(b"misplaced")
        (tmp_path / "notes.txt").write_text("operator's file")

        listed = [blob async for blob in store.list_blobs()]

        assert {blob.key: blob.size for blob in listed} == stored
        assert all(blob.modified_at.tzinfo is not None for blob in listed)
        await in_flight.abort()

    async def test_lists_nothing_before_the_first_blob(self, tmp_path: Path) -> None:
        assert [blob async for blob in LocalBlobStore(tmp_path / "none").list_blobs()] == []


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


BOUNDARY = "b0undary"
FORM = (
    b"--b0undary\r\n"
    b'Content-Disposition: form-data; name="title"\r\n\r\n'
    b"A title\r\n"
    b"--b0undary\r\n"
    b'Content-Disposition: form-data; name="file"; filename="C:\\Users\\me\\pic.png"\r\n'
    b"Content-Type: image/png\r\n\r\n"
    b"\x89PNG\r\n\x1a\n--b0undar\r\n--b0undary-\r\n\r\n"
    b"\r\n--b0undary--\r\n"
)
FILE_BYTES = b"\x89PNG\r\n\x1a\n--b0undar\r\n--b0undary-\r\n\r\n"


async def _chunks(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


class TestFormFile:
    @pytest.mark.parametrize("size", [1, 2, 3, 5, 11, len(FORM)])
    async def test_same_file_whatever_the_chunking(self, size: int) -> None:
        form = FormFile(f"multipart/form-data; boundary={BOUNDARY}", _chunks(FORM, size))
        received = b"".join([chunk async for chunk in form.chunks()])
        assert received == FILE_BYTES
        # A Windows path is cut to its last segment by the parser; either way it is metadata.
        assert (form.filename, form.content_type) == ("pic.png", "image/png")

    async def test_quoted_boundary(self) -> None:
        form = FormFile(f'multipart/form-data; boundary="{BOUNDARY}"', _chunks(FORM, 64))
        assert b"".join([chunk async for chunk in form.chunks()]) == FILE_BYTES

    def test_boundary_longer_than_any_client_sends(self) -> None:
        with pytest.raises(MalformedUpload, match="boundary"):
            FormFile(f"multipart/form-data; boundary={'x' * 300}", _chunks(b"", 1))

    async def test_file_part_limit_applies_while_streaming(self, tmp_path: Path) -> None:
        store = LocalBlobStore(tmp_path)
        body = FORM.replace(FILE_BYTES, os.urandom(5000))
        form = FormFile(f"multipart/form-data; boundary={BOUNDARY}", _chunks(body, 512))
        with pytest.raises(AttachmentTooLarge):
            await attachments_service.stage_form(store, form, None, max_bytes=1024)
        assert files_under(tmp_path) == []

    async def test_staged_form_keeps_the_parts_name_and_type(self, tmp_path: Path) -> None:
        store = LocalBlobStore(tmp_path)
        form = FormFile(f"multipart/form-data; boundary={BOUNDARY}", _chunks(FORM, 100))
        staged = await attachments_service.stage_form(store, form, None, max_bytes=1024)
        try:
            assert staged.filename == "pic.png"
            assert staged.declared_content_type == "image/png"
            assert staged.sniffed_content_type == "image/png"
            assert staged.writer.sha256 == hashlib.sha256(FILE_BYTES).hexdigest()
        finally:
            await staged.discard()
        assert files_under(tmp_path) == []


class TestListReferenced:
    async def test_returns_existing_attachments_of_the_workspace_in_body_order(
        self, factory: Factory, database: Database
    ) -> None:
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        other = await factory.workspace(owner, "Other")
        ids = []
        for target in (workspace, workspace, other):
            response = await factory.client.post(
                f"/v1/workspaces/{target['id']}/attachments",
                content=os.urandom(16),
                headers=owner.headers,
            )
            assert response.status_code == 201
            ids.append(response.json()["id"])
        mine_1, mine_2, foreign = ids
        body = f"![b](attachment:{mine_2}) [f](attachment:{foreign}) [a](attachment:{mine_1})"
        async with database.read_session() as session:
            found = await attachments_service.list_referenced(session, workspace["id"], body)
            found_ids = [a.id for a in found]
        assert found_ids == [mine_2, mine_1]


class _UnopenableStore(LocalBlobStore):
    """A real store whose blobs may be checked but not opened."""

    async def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        raise AssertionError(f"blob {key} was opened ({start}-{end})")


class TestOpenContentWithoutBody:
    async def test_checks_the_blob_exists_and_never_opens_it(
        self, factory: Factory, database: Database, tmp_path: Path
    ) -> None:
        owner = await factory.user()
        workspace = await factory.workspace(owner)
        content = os.urandom(4096)
        response = await factory.client.post(
            f"/v1/workspaces/{workspace['id']}/attachments",
            content=content,
            headers=owner.headers,
        )
        assert response.status_code == 201, response.text
        attachment = response.json()
        store = _UnopenableStore(tmp_path)
        access = WorkspaceAccess(workspace["id"], Role.VIEWER, user_principal(owner.user_id, "o"))

        async def open_without_body() -> attachments_service.Download:
            async with database.read_session() as session:
                return await attachments_service.open_content(
                    session,
                    access,
                    attachment["id"],
                    store,
                    range_header="bytes=10-19",
                    if_range=None,
                    if_none_match=None,
                    with_body=False,
                )

        with pytest.raises(AttachmentContentMissing):
            await open_without_body()  # not in this store
        await store.put_stream(_chunks_of(content))
        download = await open_without_body()
        assert download.byte_range == ByteRange(10, 19)
        assert download.chunks is not None
        assert [chunk async for chunk in download.chunks] == []


async def _chunks_of(content: bytes) -> AsyncIterator[bytes]:
    yield content
