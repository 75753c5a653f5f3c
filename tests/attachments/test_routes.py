"""Attachments over HTTP: streamed upload and download, ranges, dedup, references, limits."""

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ainotes.app import create_app
from ainotes.core.config import Settings
from tests.conftest import served
from tests.factories import Actor, Factory
from tests.problems import assert_problem

pytestmark = pytest.mark.anyio


def files_under(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file()]


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + os.urandom(64)


class Space:
    def __init__(
        self, factory: Factory, settings: Settings, owner: Actor, workspace: dict[str, Any]
    ) -> None:
        self.factory = factory
        self.client = factory.client
        self.settings = settings
        self.owner = owner
        self.workspace = workspace
        self.url = f"/v1/workspaces/{workspace['id']}/attachments"

    async def upload(
        self,
        content: bytes,
        filename: str | None = "file.bin",
        headers: dict[str, str] | None = None,
        actor: Actor | None = None,
    ) -> httpx.Response:
        params = {"filename": filename} if filename is not None else {}
        return await self.client.post(
            self.url,
            content=content,
            params=params,
            headers={**(actor or self.owner).headers, **(headers or {})},
        )

    async def uploaded(self, content: bytes, **kwargs: Any) -> dict[str, Any]:
        response = await self.upload(content, **kwargs)
        assert response.status_code == 201, response.text
        attachment: dict[str, Any] = response.json()
        return attachment

    async def content(self, attachment_id: str, **headers: str) -> httpx.Response:
        return await self.client.get(
            f"{self.url}/{attachment_id}/content", headers={**self.owner.headers, **headers}
        )

    def blob_path(self, sha256: str) -> Path:
        return self.settings.data_dir / "blobs" / sha256[:2] / sha256[2:4] / sha256


@pytest.fixture
async def space(factory: Factory, settings: Settings) -> Space:
    owner = await factory.user("owner")
    return Space(factory, settings, owner, await factory.workspace(owner))


class TestUploadAndDownload:
    async def test_round_trip_keeps_bytes_and_sha256(self, space: Space) -> None:
        data = os.urandom(300_000)
        response = await space.upload(
            data, filename="data.bin", headers={"Content-Type": "application/x-thing"}
        )
        assert response.status_code == 201, response.text
        attachment = response.json()
        digest = hashlib.sha256(data).hexdigest()
        assert attachment["sha256"] == digest
        assert attachment["size"] == len(data)
        assert attachment["filename"] == "data.bin"
        assert attachment["created_by"] == space.owner.user_id
        assert response.headers["location"].endswith(attachment["id"])
        meta = await space.client.get(
            f"{space.url}/{attachment['id']}", headers=space.owner.headers
        )
        assert meta.json() == attachment
        download = await space.content(attachment["id"])
        assert download.status_code == 200
        assert download.content == data
        assert download.headers["content-length"] == str(len(data))
        assert download.headers["etag"] == f'"{digest}"'
        assert download.headers["content-type"] == "application/x-thing"
        assert download.headers["accept-ranges"] == "bytes"
        assert download.headers["content-disposition"] == 'attachment; filename="data.bin"'
        assert download.headers["x-content-type-options"] == "nosniff"
        assert space.blob_path(digest).read_bytes() == data

    async def test_streamed_body_without_length_is_accepted(self, space: Space) -> None:
        chunks = [os.urandom(70_000) for _ in range(4)]

        async def body() -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

        response = await space.client.post(
            space.url, content=body(), params={"filename": "s.bin"}, headers=space.owner.headers
        )
        assert response.status_code == 201, response.text
        assert response.json()["sha256"] == hashlib.sha256(b"".join(chunks)).hexdigest()

    async def test_identical_uploads_share_one_blob(self, space: Space) -> None:
        data = os.urandom(5000)
        first = await space.uploaded(data, filename="a.bin")
        second = await space.uploaded(data, filename="b.bin")
        assert first["id"] != second["id"]
        assert first["sha256"] == second["sha256"]
        blobs = space.settings.data_dir / "blobs"
        copies = list(blobs.rglob(first["sha256"] + "*"))
        assert copies == [space.blob_path(first["sha256"])]
        assert not any((blobs / "tmp").iterdir())

    async def test_png_declared_as_text_is_served_as_png(self, space: Space) -> None:
        attachment = await space.uploaded(
            PNG, filename="pic.txt", headers={"Content-Type": "text/plain; charset=utf-8"}
        )
        assert attachment["declared_content_type"] == "text/plain"
        assert attachment["sniffed_content_type"] == "image/png"
        assert attachment["content_type"] == "image/png"
        download = await space.content(attachment["id"])
        assert download.headers["content-type"] == "image/png"
        assert download.headers["content-disposition"].startswith("inline;")

    async def test_html_is_never_served_as_html(self, space: Space) -> None:
        attachment = await space.uploaded(
            b"<html><script>alert(1)</script></html>",
            filename="x.html",
            headers={"Content-Type": "text/html"},
        )
        assert attachment["declared_content_type"] == "text/html"
        assert attachment["sniffed_content_type"] == "text/plain"
        assert attachment["content_type"] == "text/plain; charset=utf-8"

    async def test_markdown_declared_refines_sniffed_text(self, space: Space) -> None:
        attachment = await space.uploaded(
            "# Überschrift\n".encode(), filename="n.md", headers={"Content-Type": "text/markdown"}
        )
        assert attachment["content_type"] == "text/markdown; charset=utf-8"

    async def test_path_like_filename_is_metadata_only(self, space: Space) -> None:
        data = os.urandom(100)
        attachment = await space.uploaded(data, filename="../../etc/passwd")
        assert attachment["filename"] == "../../etc/passwd"
        assert space.blob_path(attachment["sha256"]).read_bytes() == data
        download = await space.content(attachment["id"])
        assert download.headers["content-disposition"] == 'attachment; filename="passwd"'

    async def test_filename_from_content_disposition(self, space: Space) -> None:
        attachment = await space.uploaded(
            b"%PDF-1.7 test",
            filename=None,
            headers={"Content-Disposition": "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"},
        )
        assert attachment["filename"] == "résumé.pdf"
        assert attachment["content_type"] == "application/pdf"
        download = await space.content(attachment["id"])
        assert download.headers["content-disposition"] == (
            "inline; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
        )

    async def test_if_none_match_gives_304(self, space: Space) -> None:
        attachment = await space.uploaded(os.urandom(50))
        response = await space.content(
            attachment["id"], **{"If-None-Match": f'"{attachment["sha256"]}"'}
        )
        assert response.status_code == 304
        assert response.content == b""
        # A 304 repeats the validator the client holds (RFC 9110, 15.4.5).
        assert response.headers["etag"] == f'"{attachment["sha256"]}"'


BOUNDARY = "----ainotes-test-7MA4YWxkTrZu0gW"
FORM_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def form_part(
    content: bytes,
    name: str = "file",
    filename: str | None = "form.bin",
    content_type: str | None = "application/octet-stream",
) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n"
    return head.encode() + b"\r\n" + content + b"\r\n"


def form(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


async def in_chunks(body: bytes, size: int) -> AsyncIterator[bytes]:
    """Sent without a Content-Length, as a streaming client would."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


class TestMultipartUpload:
    async def test_file_part_round_trip_with_its_name_and_type(self, space: Space) -> None:
        data = b"%PDF-1.7\n" + os.urandom(300_000)
        response = await space.client.post(
            space.url,
            files={"file": ("report.pdf", data, "application/pdf")},
            data={"comment": "ignored"},
            headers=space.owner.headers,
        )
        assert response.status_code == 201, response.text
        attachment = response.json()
        digest = hashlib.sha256(data).hexdigest()
        assert attachment["sha256"] == digest
        assert attachment["size"] == len(data)
        assert attachment["filename"] == "report.pdf"
        assert attachment["declared_content_type"] == "application/pdf"
        assert attachment["sniffed_content_type"] == "application/pdf"
        assert attachment["content_type"] == "application/pdf"
        assert response.headers["location"].endswith(attachment["id"])
        download = await space.content(attachment["id"])
        assert download.content == data
        assert download.headers["content-disposition"] == 'inline; filename="report.pdf"'
        assert space.blob_path(digest).read_bytes() == data
        assert not any((space.settings.data_dir / "blobs" / "tmp").iterdir())

    @pytest.mark.parametrize("chunk_size", [1, 7, 4096, 65536])
    async def test_streamed_form_in_any_chunking(self, space: Space, chunk_size: int) -> None:
        # Boundaries and headers split across chunks; a CR LF inside the data is not an end.
        data = b"line one\r\n--not-the-boundary\r\n" + os.urandom(20_000 if chunk_size > 7 else 900)
        body = form(form_part(b"x", name="before", filename=None), form_part(data))
        response = await space.client.post(
            space.url,
            content=in_chunks(body, chunk_size),
            headers={**space.owner.headers, "Content-Type": FORM_TYPE},
        )
        assert response.status_code == 201, response.text
        assert response.json()["sha256"] == hashlib.sha256(data).hexdigest()
        assert (await space.content(response.json()["id"])).content == data

    async def test_query_filename_overrides_the_parts(self, space: Space) -> None:
        response = await space.client.post(
            space.url,
            params={"filename": "chosen.txt"},
            files={"file": ("sent.txt", b"hello", "text/plain")},
            headers=space.owner.headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["filename"] == "chosen.txt"

    async def test_part_without_filename_or_type(self, space: Space) -> None:
        body = form(form_part(b"just text", filename=None, content_type=None))
        response = await space.client.post(
            space.url, content=body, headers={**space.owner.headers, "Content-Type": FORM_TYPE}
        )
        assert response.status_code == 201, response.text
        attachment = response.json()
        assert attachment["filename"] == "attachment"
        assert attachment["declared_content_type"] is None
        assert attachment["content_type"] == "text/plain; charset=utf-8"

    async def test_utf8_filename_and_html_type_declared(self, space: Space) -> None:
        body = form(
            form_part(
                b"<script>alert(1)</script>", filename="résumé.html", content_type="text/html"
            )
        )
        response = await space.client.post(
            space.url, content=body, headers={**space.owner.headers, "Content-Type": FORM_TYPE}
        )
        assert response.status_code == 201, response.text
        attachment = response.json()
        assert attachment["filename"] == "résumé.html"
        assert attachment["declared_content_type"] == "text/html"
        assert attachment["content_type"] == "text/plain; charset=utf-8"

    async def test_path_like_filename_is_metadata_only(self, space: Space) -> None:
        data = os.urandom(100)
        blobs = space.settings.data_dir / "blobs"
        response = await space.client.post(
            space.url,
            files={"file": ("../../../passwd", data, "application/octet-stream")},
            headers=space.owner.headers,
        )
        assert response.status_code == 201, response.text
        attachment = response.json()
        assert attachment["filename"] == "../../../passwd"
        assert space.blob_path(attachment["sha256"]).read_bytes() == data
        assert not (space.settings.data_dir.parent / "passwd").exists()
        assert not list(blobs.rglob("passwd"))
        download = await space.content(attachment["id"])
        assert download.headers["content-disposition"] == 'attachment; filename="passwd"'

    @pytest.mark.parametrize(
        ("content_type", "body"),
        [
            pytest.param("multipart/form-data", form(form_part(b"data")), id="no-boundary"),
            pytest.param(
                FORM_TYPE, form(form_part(b"v", name="other", filename=None)), id="no-file-part"
            ),
            pytest.param(
                FORM_TYPE, form(form_part(b"one"), form_part(b"two")), id="two-file-parts"
            ),
            pytest.param(
                FORM_TYPE,
                form(form_part(b"one"), form_part(b"two", name="more")),
                id="second-file-under-another-name",
            ),
            pytest.param(FORM_TYPE, form(form_part(os.urandom(5000)))[:-40], id="truncated"),
            pytest.param(FORM_TYPE, form_part(b"no closing boundary"), id="unterminated"),
            pytest.param(FORM_TYPE, b"", id="empty"),
            pytest.param(FORM_TYPE, b"this is not a form at all", id="not-multipart"),
            pytest.param(
                "multipart/form-data; boundary=other",
                form(form_part(b"data")),
                id="wrong-boundary",
            ),
            pytest.param(
                FORM_TYPE,
                form(f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n".encode()),
                id="part-without-disposition",
            ),
            pytest.param(
                FORM_TYPE,
                form(
                    form_part(
                        b"aGVsbG8=", content_type="text/plain\r\nContent-Transfer-Encoding: base64"
                    )
                ),
                id="base64-encoded",
            ),
        ],
    )
    async def test_malformed_form_is_400_and_leaves_nothing(
        self, space: Space, content_type: str, body: bytes
    ) -> None:
        response = await space.client.post(
            space.url,
            content=in_chunks(body, 1000),
            headers={**space.owner.headers, "Content-Type": content_type},
        )
        assert_problem(response, 400, "malformed-upload")
        listing = await space.client.get(space.url, headers=space.owner.headers)
        assert listing.json()["items"] == []
        # Absent when no upload of this test session has staged a file yet.
        staging = space.settings.data_dir / "blobs" / "tmp"
        assert not staging.exists() or not any(staging.iterdir())

    async def test_oversized_file_part_is_413_and_leaves_nothing(
        self, space: Space, small_client: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        body = form(form_part(os.urandom(2000)))
        response = await small_client.post(
            space.url,
            content=in_chunks(body, 300),
            headers={**space.owner.headers, "Content-Type": FORM_TYPE},
        )
        problem = assert_problem(response, 413, "attachment-too-large")
        assert problem["max_bytes"] == 1024
        assert files_under(tmp_path) == []
        listing = await small_client.get(space.url, headers=space.owner.headers)
        assert listing.json()["items"] == []

    async def test_member_of_another_workspace_gets_404(self, space: Space) -> None:
        outsider = await space.factory.user("outsider")
        await space.factory.workspace(outsider, "Outsider's own")
        data = os.urandom(64)
        response = await space.client.post(
            space.url,
            files={"file": ("x.bin", data, "application/octet-stream")},
            headers=outsider.headers,
        )
        assert_problem(response, 404, "workspace-not-found")
        assert not space.blob_path(hashlib.sha256(data).hexdigest()).exists()
        listing = await space.client.get(space.url, headers=space.owner.headers)
        assert listing.json()["items"] == []

    async def test_viewer_cannot_upload_a_form(self, space: Space) -> None:
        viewer = await space.factory.member(space.workspace, space.owner, "viewer")
        response = await space.client.post(
            space.url, files={"file": ("x.txt", b"no", "text/plain")}, headers=viewer.headers
        )
        assert_problem(response, 403, "insufficient-role")


class TestRanges:
    DATA = bytes(range(256)) * 4

    async def test_first_bytes(self, space: Space) -> None:
        attachment = await space.uploaded(self.DATA)
        response = await space.content(attachment["id"], Range="bytes=0-9")
        assert response.status_code == 206
        assert response.content == self.DATA[:10]
        assert response.headers["content-range"] == f"bytes 0-9/{len(self.DATA)}"
        assert response.headers["content-length"] == "10"

    async def test_suffix(self, space: Space) -> None:
        attachment = await space.uploaded(self.DATA)
        response = await space.content(attachment["id"], Range="bytes=-10")
        assert response.status_code == 206
        assert response.content == self.DATA[-10:]
        size = len(self.DATA)
        assert response.headers["content-range"] == f"bytes {size - 10}-{size - 1}/{size}"

    async def test_open_ended(self, space: Space) -> None:
        attachment = await space.uploaded(self.DATA)
        response = await space.content(attachment["id"], Range="bytes=1000-")
        assert response.status_code == 206
        assert response.content == self.DATA[1000:]

    async def test_end_past_size_is_clamped(self, space: Space) -> None:
        attachment = await space.uploaded(self.DATA)
        response = await space.content(attachment["id"], Range="bytes=1020-5000")
        assert response.status_code == 206
        assert response.content == self.DATA[1020:]

    @pytest.mark.parametrize("header", ["bytes=1024-", "bytes=5000-6000", "bytes=9-3", "bytes=x-"])
    async def test_unsatisfiable_or_malformed_is_416(self, space: Space, header: str) -> None:
        attachment = await space.uploaded(self.DATA)
        response = await space.content(attachment["id"], Range=header)
        problem = assert_problem(response, 416, "range-not-satisfiable")
        assert response.headers["content-range"] == f"bytes */{len(self.DATA)}"
        assert problem["size"] == len(self.DATA)

    async def test_several_ranges_get_the_whole_file(self, space: Space) -> None:
        attachment = await space.uploaded(self.DATA)
        response = await space.content(attachment["id"], Range="bytes=0-1,5-6")
        assert response.status_code == 200
        assert response.content == self.DATA

    async def test_if_range_with_another_etag_gets_the_whole_file(self, space: Space) -> None:
        attachment = await space.uploaded(self.DATA)
        response = await space.content(
            attachment["id"], Range="bytes=0-1", **{"If-Range": '"somethingelse"'}
        )
        assert response.status_code == 200
        assert response.content == self.DATA


@pytest.fixture
async def small_client(settings: Settings, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The same database, with a 1 KiB attachment limit and its blobs under ``tmp_path``."""
    small = settings.model_copy(update={"max_attachment_bytes": 1024, "data_dir": tmp_path})
    app = create_app(small)
    async with served(app) as client:
        yield client


class TestUploadLimit:
    async def test_oversized_stream_is_413_and_leaves_nothing(
        self, space: Space, small_client: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        async def body() -> AsyncIterator[bytes]:
            for _ in range(5):
                yield os.urandom(400)

        response = await small_client.post(
            space.url, content=body(), params={"filename": "big"}, headers=space.owner.headers
        )
        problem = assert_problem(response, 413, "attachment-too-large")
        assert problem["max_bytes"] == 1024
        assert files_under(tmp_path) == []
        listing = await small_client.get(space.url, headers=space.owner.headers)
        assert listing.json()["items"] == []

    async def test_declared_length_over_the_limit_is_refused_before_reading(
        self, space: Space, small_client: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        response = await small_client.post(
            space.url, content=os.urandom(2000), headers=space.owner.headers
        )
        assert_problem(response, 413, "content-too-large")
        assert files_under(tmp_path) == []

    async def test_at_the_limit_is_accepted(
        self, space: Space, small_client: httpx.AsyncClient
    ) -> None:
        response = await small_client.post(
            space.url, content=os.urandom(1024), headers=space.owner.headers
        )
        assert response.status_code == 201, response.text
        assert response.json()["filename"] == "attachment"


class TestDeleteAttachment:
    async def test_refused_while_a_live_note_references_it_then_forced(self, space: Space) -> None:
        attachment = await space.uploaded(os.urandom(64))
        note = await space.factory.note(
            space.workspace,
            space.owner,
            title="Lab report",
            body=f"See ![chart](attachment:{attachment['id']}).",
        )
        response = await space.client.delete(
            f"{space.url}/{attachment['id']}", headers=space.owner.headers
        )
        problem = assert_problem(response, 409, "attachment-in-use")
        assert problem["notes"] == [{"id": note["id"], "title": "Lab report"}]
        forced = await space.client.delete(
            f"{space.url}/{attachment['id']}",
            params={"force": "true"},
            headers=space.owner.headers,
        )
        assert forced.status_code == 204
        assert not space.blob_path(attachment["sha256"]).exists()
        gone = await space.client.get(
            f"{space.url}/{attachment['id']}", headers=space.owner.headers
        )
        assert_problem(gone, 404, "attachment-not-found")

    async def test_references_in_trashed_notes_or_code_do_not_block(self, space: Space) -> None:
        attachment = await space.uploaded(os.urandom(64))
        await space.factory.note(
            space.workspace, space.owner, body=f"`![x](attachment:{attachment['id']})`"
        )
        trashed = await space.factory.note(
            space.workspace, space.owner, body=f"[file](attachment:{attachment['id']})"
        )
        response = await space.client.delete(
            f"/v1/workspaces/{space.workspace['id']}/notes/{trashed['id']}",
            headers=space.owner.headers,
        )
        assert response.status_code == 200
        deleted = await space.client.delete(
            f"{space.url}/{attachment['id']}", headers=space.owner.headers
        )
        assert deleted.status_code == 204, deleted.text

    async def test_blob_stays_while_another_attachment_uses_it(self, space: Space) -> None:
        data = os.urandom(2048)
        first = await space.uploaded(data)
        other_workspace = await space.factory.workspace(space.owner, "Other")
        second_response = await space.client.post(
            f"/v1/workspaces/{other_workspace['id']}/attachments",
            content=data,
            headers=space.owner.headers,
        )
        second = second_response.json()
        blob = space.blob_path(first["sha256"])
        assert (
            await space.client.delete(f"{space.url}/{first['id']}", headers=space.owner.headers)
        ).status_code == 204
        assert blob.read_bytes() == data
        download = await space.client.get(
            f"/v1/workspaces/{other_workspace['id']}/attachments/{second['id']}/content",
            headers=space.owner.headers,
        )
        assert download.content == data
        assert (
            await space.client.delete(
                f"/v1/workspaces/{other_workspace['id']}/attachments/{second['id']}",
                headers=space.owner.headers,
            )
        ).status_code == 204
        assert not blob.exists()


class TestAccess:
    async def test_attachment_of_another_workspace_is_404(self, space: Space) -> None:
        attachment = await space.uploaded(os.urandom(10))
        other = await space.factory.workspace(space.owner, "Other")
        base = f"/v1/workspaces/{other['id']}/attachments/{attachment['id']}"
        for path in (base, f"{base}/content"):
            response = await space.client.get(path, headers=space.owner.headers)
            assert_problem(response, 404, "attachment-not-found")
        response = await space.client.delete(base, headers=space.owner.headers)
        assert_problem(response, 404, "attachment-not-found")

    async def test_non_member_gets_404(self, space: Space) -> None:
        stranger = await space.factory.user("stranger")
        response = await space.upload(b"hello", actor=stranger)
        assert_problem(response, 404, "workspace-not-found")

    async def test_viewer_reads_but_cannot_upload_or_delete(self, space: Space) -> None:
        attachment = await space.uploaded(b"shared bytes")
        viewer = await space.factory.member(space.workspace, space.owner, "viewer")
        assert_problem(await space.upload(b"nope", actor=viewer), 403, "insufficient-role")
        deleted = await space.client.delete(
            f"{space.url}/{attachment['id']}", headers=viewer.headers
        )
        assert_problem(deleted, 403, "insufficient-role")
        download = await space.client.get(
            f"{space.url}/{attachment['id']}/content", headers=viewer.headers
        )
        assert download.content == b"shared bytes"

    async def test_without_token_is_401(self, space: Space) -> None:
        response = await space.client.post(space.url, content=b"x")
        assert_problem(response, 401, "unauthenticated")
        listing = await space.client.get(space.url)
        assert_problem(listing, 401, "unauthenticated")


class TestListAttachments:
    async def test_newest_first_with_cursor(self, space: Space) -> None:
        created = [await space.uploaded(os.urandom(8)) for _ in range(3)]
        first = await space.client.get(space.url, params={"limit": 2}, headers=space.owner.headers)
        page = first.json()
        assert [a["id"] for a in page["items"]] == [created[2]["id"], created[1]["id"]]
        second = await space.client.get(
            space.url,
            params={"limit": 2, "cursor": page["next_cursor"]},
            headers=space.owner.headers,
        )
        assert [a["id"] for a in second.json()["items"]] == [created[0]["id"]]
        assert second.json()["next_cursor"] is None


class TestNoteListsItsAttachments:
    async def test_single_note_read_lists_referenced_attachments_in_order(
        self, space: Space
    ) -> None:
        first = await space.uploaded(b"first file", filename="one.txt")
        second = await space.uploaded(PNG, filename="two.png")
        stranger = await space.factory.user("stranger")
        elsewhere = await space.factory.workspace(stranger)
        other = await space.client.post(
            f"/v1/workspaces/{elsewhere['id']}/attachments",
            content=b"other workspace",
            headers=stranger.headers,
        )
        assert other.status_code == 201, other.text
        body = (
            f"![chart](attachment:{second['id']})\n"
            f"[notes](attachment:{first['id']}) and again ![](attachment:{second['id']})\n"
            f"`![](attachment:{first['id']})` is only an example\n"
            f"![theirs](attachment:{other.json()['id']})\n"
            "![gone](attachment:01JDZZZZZZZZZZZZZZZZZZZZZZ)\n"
        )
        note = await space.factory.note(space.workspace, space.owner, body=body)
        assert "attachments" not in note
        notes_url = f"/v1/workspaces/{space.workspace['id']}/notes"

        response = await space.client.get(f"{notes_url}/{note['id']}", headers=space.owner.headers)

        assert response.status_code == 200, response.text
        assert response.json()["attachments"] == [
            {
                "id": second["id"],
                "filename": "two.png",
                "content_type": "image/png",
                "size": len(PNG),
            },
            {
                "id": first["id"],
                "filename": "one.txt",
                "content_type": first["content_type"],
                "size": len(b"first file"),
            },
        ]
        listing = await space.client.get(notes_url, headers=space.owner.headers)
        assert all("attachments" not in item for item in listing.json()["items"])
