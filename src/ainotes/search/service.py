from ainotes.core.db import WritableSession
from ainotes.notes.events import NoteChange


async def on_note_change(session: WritableSession, change: NoteChange) -> None:
    """Keep this module's data in step with a note write (same transaction)."""
