from ainotes.core.errors import Conflict, NotFound, ValidationFailed


class RelationshipNotFound(NotFound):
    slug = "relationship-not-found"
    title = "Relationship not found"


class SelfRelationship(ValidationFailed):
    slug = "self-relationship"
    title = "A note cannot be related to itself"


class DuplicateRelationship(Conflict):
    slug = "duplicate-relationship"
    title = "The relationship already exists"


class RelatedNoteInTrash(Conflict):
    slug = "related-note-in-trash"
    title = "A note of the relationship is in the trash"


class BodyLinkReadOnly(Conflict):
    slug = "body-link-read-only"
    title = "Links written in a note change with the note"
