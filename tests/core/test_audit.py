"""The audit chain: appends in the caller's transaction, and verify finds tampering."""

import itertools

import pytest
from sqlalchemy import delete, select, update

from ainotes.core import audit
from ainotes.core.db import Database
from ainotes.core.ids import new_id
from ainotes.core.principal import Principal, PrincipalKind

pytestmark = pytest.mark.anyio

ACTOR = Principal(kind=PrincipalKind.USER, id=new_id(), name="auditor")


async def _record_events(database: Database, chain: str, count: int) -> None:
    for index in range(count):
        async with database.write_session() as session:
            await audit.record(
                session,
                actor=ACTOR,
                action="note.updated",
                target_type="note",
                target_id=new_id(),
                workspace_id=chain,
                changes={"title": audit.change(f"old {index}", f"new {index}")},
            )


async def _verify(database: Database, chain: str) -> audit.ChainVerification:
    async with database.read_session() as session:
        return await audit.verify(session, chain)


async def _start_chain(database: Database) -> str:
    chain = new_id()
    async with database.write_session() as session:
        await audit.record(
            session,
            actor=ACTOR,
            action="workspace.created",
            target_type="workspace",
            target_id=chain,
            workspace_id=chain,
        )
    return chain


class TestRecord:
    async def test_events_get_gapless_sequence_and_link_to_the_previous_hash(
        self, database: Database
    ) -> None:
        chain = await _start_chain(database)
        await _record_events(database, chain, 3)
        async with database.read_session() as session:
            events = (
                (
                    await session.execute(
                        select(audit.AuditEvent)
                        .where(audit.AuditEvent.chain_id == chain)
                        .order_by(audit.AuditEvent.seq)
                    )
                )
                .scalars()
                .all()
            )
        assert [e.seq for e in events] == [1, 2, 3, 4]
        assert events[0].prev_hash == audit.GENESIS_HASH
        for previous, current in itertools.pairwise(events):
            assert current.prev_hash == previous.hash
        assert (await _verify(database, chain)).ok

    async def test_an_event_rolls_back_with_its_transaction(self, database: Database) -> None:
        chain = await _start_chain(database)

        async def failing_change() -> None:
            async with database.write_session() as session:
                await audit.record(
                    session,
                    actor=ACTOR,
                    action="note.created",
                    target_type="note",
                    target_id=new_id(),
                    workspace_id=chain,
                )
                raise RuntimeError("the change failed")

        with pytest.raises(RuntimeError):
            await failing_change()
        await _record_events(database, chain, 1)
        verification = await _verify(database, chain)
        assert verification.ok
        assert verification.events == 2

    async def test_large_values_are_kept_as_digests_only(self) -> None:
        body = "line\n" * 100
        assert audit.change("a", "b") == {"before": "a", "after": "b"}
        kept = audit.change(body, body + "more")
        assert set(kept) == {"before_digest", "after_digest"}
        assert body not in str(kept)

    async def test_changes_between_lists_only_changed_fields(self) -> None:
        changed = audit.changes_between({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4})
        assert changed == {"b": {"before": 2, "after": 3}, "c": {"before": None, "after": 4}}


class TestVerify:
    async def test_edited_event_is_named(self, database: Database) -> None:
        chain = await _start_chain(database)
        await _record_events(database, chain, 4)
        async with database.write_session() as session:
            await session.execute(
                update(audit.AuditEvent)
                .where(audit.AuditEvent.chain_id == chain, audit.AuditEvent.seq == 3)
                .values(action="note.trashed")
            )
        verification = await _verify(database, chain)
        assert not verification.ok
        assert verification.first_broken_seq == 3
        assert verification.reason is not None
        assert "hash" in verification.reason

    async def test_deleted_event_is_named(self, database: Database) -> None:
        chain = await _start_chain(database)
        await _record_events(database, chain, 4)
        async with database.write_session() as session:
            await session.execute(
                delete(audit.AuditEvent).where(
                    audit.AuditEvent.chain_id == chain, audit.AuditEvent.seq == 2
                )
            )
        verification = await _verify(database, chain)
        assert not verification.ok
        assert verification.first_broken_seq == 2

    async def test_deleted_last_event_is_noticed_through_the_head(self, database: Database) -> None:
        chain = await _start_chain(database)
        await _record_events(database, chain, 2)
        async with database.write_session() as session:
            await session.execute(
                delete(audit.AuditEvent).where(
                    audit.AuditEvent.chain_id == chain, audit.AuditEvent.seq == 3
                )
            )
        verification = await _verify(database, chain)
        assert not verification.ok
        assert verification.first_broken_seq == 3

    async def test_reordered_events_are_named(self, database: Database) -> None:
        chain = await _start_chain(database)
        await _record_events(database, chain, 4)
        async with database.write_session() as session:
            table = audit.AuditEvent
            for old, new in ((2, -2), (3, 2), (-2, 3)):
                await session.execute(
                    update(table).where(table.chain_id == chain, table.seq == old).values(seq=new)
                )
        verification = await _verify(database, chain)
        assert not verification.ok
        assert verification.first_broken_seq == 2

    async def test_untouched_chain_verifies(self, database: Database) -> None:
        chain = await _start_chain(database)
        await _record_events(database, chain, 5)
        verification = await _verify(database, chain)
        assert verification.ok
        assert verification.events == 6
        assert verification.first_broken_seq is None
