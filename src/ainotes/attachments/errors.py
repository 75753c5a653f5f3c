from ainotes.core.errors import BadRequest, Conflict, ContentTooLarge, NotFound, ProblemError


class AttachmentNotFound(NotFound):
    slug = "attachment-not-found"
    title = "Attachment not found"


class AttachmentTooLarge(ContentTooLarge):
    slug = "attachment-too-large"
    title = "Attachment too large"


class MalformedUpload(BadRequest):
    """A multipart/form-data upload that cannot be read as one file: no boundary, no ``file``
    part or more than one file, or a body that breaks off before its closing boundary."""

    slug = "malformed-upload"
    title = "Malformed multipart upload"


class AttachmentInUse(Conflict):
    slug = "attachment-in-use"
    title = "The attachment is referenced by notes"


class RangeNotSatisfiable(ProblemError):
    slug = "range-not-satisfiable"
    status = 416
    title = "Range not satisfiable"


class AttachmentContentMissing(ProblemError):
    """The row exists but the blob store has no bytes for it (storage lost or tampered with)."""

    slug = "attachment-content-missing"
    status = 500
    title = "Attachment content missing"
