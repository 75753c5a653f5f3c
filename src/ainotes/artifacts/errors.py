from ainotes.core.errors import Conflict, NotFound, ValidationFailed


class ArtifactNotFound(NotFound):
    slug = "artifact-not-found"
    title = "Artifact not found"


class InvalidArtifactContent(ValidationFailed):
    slug = "invalid-artifact-content"
    title = "The content does not fit the artifact's kind"


class SourceNoteNotFound(ValidationFailed):
    slug = "source-note-not-found"
    title = "A source note does not exist"


class SourceNoteInTrash(Conflict):
    slug = "source-note-in-trash"
    title = "A source note is in the trash"


class SourceVersionAhead(Conflict):
    slug = "source-version-ahead"
    title = "A source version is newer than the note"
