from ainotes.core.errors import Conflict, ContentTooLarge, NotFound


class NoteNotFound(NotFound):
    slug = "note-not-found"
    title = "Note not found"


class RevisionNotFound(NotFound):
    slug = "revision-not-found"
    title = "Revision not found"


class NoteTooLarge(ContentTooLarge):
    slug = "note-too-large"
    title = "Note body too large"


class NoteInTrash(Conflict):
    slug = "note-in-trash"
    title = "The note is in the trash"


class NoteNotInTrash(Conflict):
    slug = "note-not-in-trash"
    title = "The note is not in the trash"
