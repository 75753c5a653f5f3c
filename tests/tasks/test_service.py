"""The matching that keeps task ids stable across note edits (pure, no database)."""

from ainotes.tasks.parser import parse
from ainotes.tasks.service import MAX_SIMILARITY_PAIRS, KnownTask, match_items


def known(body: str) -> list[KnownTask]:
    """The tasks a body would have produced, with ids named after their text."""
    return [KnownTask(f"id-{item.text}", item.text, item.line) for item in parse(body)]


def rematch(before: str, after: str, pinned: dict[int, str] | None = None) -> list[str | None]:
    return match_items(known(before), parse(after), pinned or {})


class TestMatchItems:
    def test_unchanged_body_keeps_every_id(self) -> None:
        body = "- [ ] a\n- [ ] b\n- [ ] c"
        assert rematch(body, body) == ["id-a", "id-b", "id-c"]

    def test_lines_inserted_above(self) -> None:
        assert rematch("- [ ] a\n- [ ] b", "# Title\n\nIntro.\n- [ ] a\n- [ ] b") == [
            "id-a",
            "id-b",
        ]

    def test_reorder(self) -> None:
        assert rematch("- [ ] a\n- [ ] b\n- [ ] c", "- [ ] c\n- [ ] a\n- [ ] b") == [
            "id-c",
            "id-a",
            "id-b",
        ]

    def test_status_and_due_date_changes_keep_the_id(self) -> None:
        before = "- [ ] pay rent 📅 2026-12-01"
        assert rematch(before, "- [x] pay rent due:2026-12-05") == ["id-pay rent"]

    def test_small_text_edit_keeps_the_id(self) -> None:
        before = "- [ ] buy milk\n- [ ] call the plumber about the sink"
        after = "- [ ] call the plumber about the kitchen sink\n- [ ] buy oat milk"
        assert rematch(before, after) == ["id-call the plumber about the sink", "id-buy milk"]

    def test_rewrite_in_place_between_the_same_neighbours_keeps_the_id(self) -> None:
        before = "- [ ] a\n- [ ] book flights\n- [ ] c"
        after = "- [ ] a\n- [ ] renew the passport\n- [ ] c"
        assert rematch(before, after) == ["id-a", "id-book flights", "id-c"]

    def test_rewrite_with_a_new_item_next_to_it_gets_new_ids(self) -> None:
        # Two new items where one old one was: neither is recognisably the old item.
        before = "- [ ] a\n- [ ] book flights\n- [ ] c"
        after = "- [ ] a\n- [ ] renew the passport\n- [ ] pack\n- [ ] c"
        assert rematch(before, after) == ["id-a", None, None, "id-c"]

    def test_removed_item_leaves_its_id_unused(self) -> None:
        assert rematch("- [ ] a\n- [ ] b\n- [ ] c", "- [ ] a\n- [ ] c") == ["id-a", "id-c"]

    def test_new_item_gets_no_id(self) -> None:
        assert rematch("- [ ] a", "- [ ] a\n- [ ] something else entirely") == ["id-a", None]

    def test_duplicates_match_in_order(self) -> None:
        before = "- [ ] call\n- [ ] call"
        ids = match_items(
            [KnownTask("first", "call", 1), KnownTask("second", "call", 2)],
            parse("- [ ] intro\n" + before),
            {},
        )
        assert ids == [None, "first", "second"]

    def test_pinned_line_wins_over_text(self) -> None:
        # A write-back rewrote line 2 completely; an identical text elsewhere must not steal it.
        ids = match_items(
            [KnownTask("t1", "walk the dog", 1), KnownTask("t2", "feed the cat", 2)],
            parse("- [ ] walk the dog\n- [ ] walk the dog"),
            {2: "t2"},
        )
        assert ids == ["t1", "t2"]

    def test_pin_to_an_unknown_task_is_ignored(self) -> None:
        assert rematch("- [ ] a", "- [ ] a", pinned={1: "gone"}) == ["id-a"]

    def test_similarity_prefers_the_closest_text(self) -> None:
        before = "- [ ] write report draft\n- [ ] write report summary"
        after = "- [ ] write report summary!"
        assert rematch(before, after) == ["id-write report summary"]

    def test_too_many_pairs_skip_similarity_but_keep_exact_matches(self) -> None:
        count = int(MAX_SIMILARITY_PAIRS**0.5) + 1
        before = "\n".join(f"- [ ] task number {n}" for n in range(count))
        after = "\n".join(f"- [ ] task number {n}!" for n in range(count)) + "\n- [ ] task number 0"
        ids = rematch(before, after)
        assert ids[-1] == "id-task number 0"
        assert ids[:-1] == [None] * count
