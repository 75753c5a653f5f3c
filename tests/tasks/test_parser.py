from datetime import date

import pytest

from ainotes.tasks.parser import NotATaskLine, TaskItem, normalize_label, parse, rewrite_line


def only(body: str) -> TaskItem:
    items = parse(body)
    assert len(items) == 1, items
    return items[0]


class TestRecognisesTaskItems:
    @pytest.mark.parametrize("marker", ["-", "*", "+", "1.", "12)", "3)"])
    def test_every_list_marker(self, marker: str) -> None:
        item = only(f"{marker} [ ] water the plants")
        assert item.marker == marker
        assert item.text == "water the plants"
        assert not item.done

    @pytest.mark.parametrize("check", ["x", "X"])
    def test_checked_in_either_case(self, check: str) -> None:
        assert only(f"- [{check}] done already").done

    @pytest.mark.parametrize(
        "line",
        [
            "- [] no space inside",
            "-[ ] no space after the marker",
            "- [ ]no space after the box",
            "- [ ]",
            "- [ ]   ",
            "- [y] unknown mark",
            "[ ] not a list item",
            "1. plain numbered item",
            "- plain item",
            "> [ ] quoted, not a list item",
            "> plain quote",
        ],
    )
    def test_not_a_task(self, line: str) -> None:
        assert parse(line) == []

    def test_line_numbers_are_one_based_and_count_every_line(self) -> None:
        items = parse("# Title\n\n- [ ] first\ntext\n\n- [x] second")
        assert [(i.line, i.text) for i in items] == [(3, "first"), (6, "second")]

    def test_crlf_line_endings(self) -> None:
        items = parse("- [ ] one\r\n- [x] two\r\n")
        assert [(i.text, i.done) for i in items] == [("one", False), ("two", True)]

    def test_trailing_spaces_are_not_text(self) -> None:
        assert only("- [ ] trailing   \t").text == "trailing"

    def test_inner_spaces_collapse(self) -> None:
        assert only("- [ ] lots    of \t space").text == "lots of space"


class TestNesting:
    def test_levels_and_parents(self) -> None:
        body = "- [ ] top\n  - [ ] child\n    - [x] grandchild\n  - [ ] second child\n- [ ] next"
        items = parse(body)
        assert [(i.text, i.level, i.parent) for i in items] == [
            ("top", 0, None),
            ("child", 1, 0),
            ("grandchild", 2, 1),
            ("second child", 1, 0),
            ("next", 0, None),
        ]

    def test_parent_skips_plain_list_items(self) -> None:
        items = parse("- [ ] project\n  - phase one\n    - [ ] step")
        assert [(i.text, i.level, i.parent) for i in items] == [
            ("project", 0, None),
            ("step", 2, 0),
        ]

    def test_tabs_count_as_indentation(self) -> None:
        items = parse("- [ ] top\n\t- [ ] tabbed child")
        assert items[1].level == 1
        assert items[1].parent == 0

    def test_numbered_list_nested_in_bullets(self) -> None:
        items = parse("- [ ] top\n   1. [ ] first\n   2) [x] second")
        assert [(i.marker, i.parent, i.done) for i in items] == [
            ("-", None, False),
            ("1.", 0, False),
            ("2)", 0, True),
        ]

    def test_paragraph_at_the_margin_ends_the_list(self) -> None:
        items = parse("- [ ] top\nA paragraph.\n  - [ ] not a child")
        assert items[1].parent is None
        assert items[1].level == 0

    def test_blank_line_and_indented_continuation_keep_the_list(self) -> None:
        items = parse("- [ ] top\n\n  more about top\n\n  - [ ] child")
        assert items[1].parent == 0


class TestCodeFences:
    def test_items_in_backtick_fences_are_ignored(self) -> None:
        body = "- [ ] before\n```markdown\n- [ ] example\n```\n- [ ] after"
        assert [i.text for i in parse(body)] == ["before", "after"]

    def test_items_in_tilde_fences_are_ignored(self) -> None:
        body = "~~~\n- [ ] example\n~~~\n- [ ] after"
        assert [(i.line, i.text) for i in parse(body)] == [(4, "after")]

    def test_fence_closes_only_with_the_same_character_and_length(self) -> None:
        body = "````\n```\n- [ ] still code\n~~~\n````\n- [ ] after"
        assert [i.text for i in parse(body)] == ["after"]

    def test_indented_fence_inside_a_list_item(self) -> None:
        body = "- [ ] top\n  ```\n  - [ ] code\n  ```\n  - [ ] child"
        items = parse(body)
        assert [(i.text, i.parent) for i in items] == [("top", None), ("child", 0)]

    def test_unclosed_fence_runs_to_the_end(self) -> None:
        assert parse("```\n- [ ] code") == []

    def test_inline_backticks_are_not_a_fence(self) -> None:
        assert [i.text for i in parse("```inline``` text\n- [ ] real")] == ["real"]


class TestBlockquotes:
    def test_quoted_item(self) -> None:
        item = only("> - [ ] call Bob @bob")
        assert (item.text, item.done, item.level, item.assignees) == (
            "call Bob @bob",
            False,
            0,
            ("bob",),
        )

    @pytest.mark.parametrize(
        "line", ["> > - [x] done", ">> - [x] done", ">>- [x] done", "  >  > - [x] done"]
    )
    def test_nested_quotes(self, line: str) -> None:
        item = only(line)
        assert (item.text, item.done) == ("done", True)

    def test_numbered_list_in_a_quote(self) -> None:
        items = parse("> Steps:\n>\n> 1. [ ] first\n> 2) [x] second\n>    - [ ] detail")
        assert [(i.line, i.marker, i.text, i.done, i.level, i.parent) for i in items] == [
            (3, "1.", "first", False, 0, None),
            (4, "2)", "second", True, 0, None),
            (5, "-", "detail", False, 1, 1),
        ]

    def test_nesting_inside_a_quote_as_at_the_margin(self) -> None:
        items = parse("> - [ ] top\n>   - [ ] child\n>\n>     more about child\n>   - [ ] next")
        assert [(i.text, i.level, i.parent) for i in items] == [
            ("top", 0, None),
            ("child", 1, 0),
            ("next", 1, 0),
        ]

    def test_a_deeper_quote_at_the_margin_ends_the_list(self) -> None:
        items = parse("> - [ ] outer\n> > - [ ] inner")
        assert [(i.text, i.level, i.parent) for i in items] == [
            ("outer", 0, None),
            ("inner", 0, None),
        ]

    def test_a_quote_indented_under_an_item_is_inside_it(self) -> None:
        items = parse("- [ ] top\n  > - [ ] quoted child\n> - [ ] quoted, not a child")
        assert [(i.text, i.level, i.parent) for i in items] == [
            ("top", 0, None),
            ("quoted child", 1, 0),
            ("quoted, not a child", 0, None),
        ]

    def test_leaving_the_quote_ends_its_lists(self) -> None:
        items = parse("> - [ ] quoted\n  - [ ] not its child\n> - [ ] a\n\n>   - [ ] b")
        assert [(i.text, i.level, i.parent) for i in items] == [
            ("quoted", 0, None),
            ("not its child", 0, None),
            ("a", 0, None),
            ("b", 0, None),
        ]

    def test_a_quote_at_the_margin_ends_the_list_outside(self) -> None:
        items = parse("- [ ] top\n> quoted words\n  - [ ] not a child")
        assert items[1].parent is None

    def test_fences_inside_a_quote_are_ignored(self) -> None:
        body = "> - [ ] before\n> ```md\n> - [ ] example\n> > - [ ] nested\n> ```\n> - [ ] after"
        assert [(i.line, i.text) for i in parse(body)] == [(1, "before"), (6, "after")]

    def test_quote_markers_inside_a_fence_are_code(self) -> None:
        assert parse("```\n> - [ ] example\n```") == []

    def test_a_fence_ends_with_its_quote(self) -> None:
        body = "> ~~~\n> - [ ] code\n\n- [ ] after\n- [ ] more"
        assert [i.text for i in parse(body)] == ["after", "more"]

    def test_a_fence_in_a_deeper_quote_ends_with_it(self) -> None:
        body = "> > ```\n> > - [ ] code\n> - [ ] outer again"
        assert [i.text for i in parse(body)] == ["outer again"]


class TestExtras:
    def test_emoji_due_date(self) -> None:
        item = only("- [ ] pay rent 📅 2026-12-01")
        assert item.due == date(2026, 12, 1)
        assert item.text == "pay rent"
        assert item.due_tokens == ("📅 2026-12-01",)

    def test_emoji_with_variation_selector_and_no_space(self) -> None:
        assert only("- [ ] pay rent 📅\ufe0f2026-12-01").due == date(2026, 12, 1)

    @pytest.mark.parametrize("token", ["due:2026-12-01", "Due:2026-12-01", "DUE:2026-12-01"])
    def test_due_colon(self, token: str) -> None:
        item = only(f"- [ ] pay {token} rent")
        assert item.due == date(2026, 12, 1)
        assert item.text == "pay rent"

    @pytest.mark.parametrize("token", ["due:2026-02-30", "📅 2026-13-01", "due:2026-00-10"])
    def test_impossible_dates_are_ignored_and_stay_in_the_text(self, token: str) -> None:
        item = only(f"- [ ] pay rent {token}")
        assert item.due is None
        assert item.text == f"pay rent {token}"

    @pytest.mark.parametrize(
        "text", ["overdue:2026-12-01", "due:2026-12-01T10:00", "due: 2026-12-01", "due:26-12-01"]
    )
    def test_lookalikes_are_not_due_dates(self, text: str) -> None:
        assert only(f"- [ ] {text}").due is None

    def test_first_valid_due_date_wins(self) -> None:
        item = only("- [ ] a due:2026-02-30 due:2026-03-01 📅 2026-04-01")
        assert item.due == date(2026, 3, 1)
        assert item.text == "a due:2026-02-30"

    def test_tags_are_read_normalised_and_stay_in_the_text(self) -> None:
        item = only("- [ ] plan #Trip and #work/q4, #trip again.")
        assert item.tags == ("trip", "work/q4")
        assert item.text == "plan #Trip and #work/q4, #trip again."

    @pytest.mark.parametrize(
        "text", ["issue #12", "page#anchor", "&#39; entity", "## heading-ish", "a/#b"]
    )
    def test_tag_lookalikes(self, text: str) -> None:
        assert only(f"- [ ] {text}").tags == ()

    def test_tag_with_trailing_punctuation(self) -> None:
        assert only("- [ ] finish #draft-.").tags == ("draft",)

    def test_assignees(self) -> None:
        item = only("- [ ] review with @Alice and @bob.smith, thanks @alice.")
        assert item.assignees == ("alice", "bob.smith")

    def test_email_addresses_are_not_assignees(self) -> None:
        assert only("- [ ] write to ann@example.com").assignees == ()

    def test_overlong_labels_are_dropped(self) -> None:
        assert only(f"- [ ] #{'a' * 101} #ok").tags == ("ok",)

    def test_all_extras_together(self) -> None:
        item = only("  1) [X] ship #release @dana due:2027-01-15")
        assert (item.done, item.due, item.tags, item.assignees, item.text) == (
            True,
            date(2027, 1, 15),
            ("release",),
            ("dana",),
            "ship #release @dana",
        )


class TestRewriteLine:
    def test_checks_and_keeps_everything_else(self) -> None:
        line = "\t  12) [ ] pay rent 📅 2026-12-01 #home  "
        assert rewrite_line(line, done=True) == "\t  12) [x] pay rent 📅 2026-12-01 #home  "

    def test_unchecks_uppercase(self) -> None:
        assert rewrite_line("* [X] done", done=False) == "* [ ] done"

    def test_same_status_leaves_the_line_alone(self) -> None:
        assert rewrite_line("- [X] done", done=True) == "- [X] done"

    def test_keeps_crlf(self) -> None:
        assert rewrite_line("- [ ] a\r", done=True) == "- [x] a\r"

    def test_new_text_keeps_the_due_date(self) -> None:
        line = "  - [ ] pay rent 📅 2026-12-01 #home"
        assert rewrite_line(line, text="pay the rent #flat") == (
            "  - [ ] pay the rent #flat 📅 2026-12-01"
        )

    def test_new_text_with_a_due_date_replaces_it(self) -> None:
        line = "- [ ] pay rent due:2026-12-01"
        assert rewrite_line(line, text="pay rent due:2026-12-05") == "- [ ] pay rent due:2026-12-05"

    def test_new_text_with_an_impossible_date_keeps_the_old_one(self) -> None:
        line = "- [ ] pay due:2026-12-01"
        assert rewrite_line(line, text="pay due:2026-02-30") == (
            "- [ ] pay due:2026-02-30 due:2026-12-01"
        )

    def test_text_and_status_at_once(self) -> None:
        assert rewrite_line("1. [ ] a", done=True, text="b") == "1. [x] b"

    def test_rewritten_line_parses_back(self) -> None:
        line = rewrite_line("  + [ ] old 📅 2026-12-01", done=True, text="new @kim")
        item = only(line)
        assert (item.text, item.done, item.due, item.assignees, item.level) == (
            "new @kim",
            True,
            date(2026, 12, 1),
            ("kim",),
            0,
        )

    @pytest.mark.parametrize(
        ("line", "expected"),
        [
            ("> - [ ] call Bob", "> - [x] call Bob"),
            ("> > 1. [ ] nested", "> > 1. [x] nested"),
            (">>- [ ] tight", ">>- [x] tight"),
            ("  >\t>   * [ ] odd spacing  \r", "  >\t>   * [x] odd spacing  \r"),
        ],
    )
    def test_keeps_quote_markers(self, line: str, expected: str) -> None:
        assert rewrite_line(line, done=True) == expected

    def test_new_text_in_a_quote(self) -> None:
        line = "> >   - [x] old words due:2026-12-01"
        assert rewrite_line(line, done=False, text="new words") == (
            "> >   - [ ] new words due:2026-12-01"
        )
        assert only(rewrite_line(line, text="new words")).text == "new words"

    @pytest.mark.parametrize(
        "line", ["plain text", "- plain item", "- [ ]", "", "> quoted text", "> - plain"]
    )
    def test_refuses_a_line_that_is_not_a_task(self, line: str) -> None:
        with pytest.raises(NotATaskLine):
            rewrite_line(line, done=True)


@pytest.mark.parametrize(
    ("raw", "label"),
    [("#Trip", "trip"), ("@Bob.", "bob"), (" work/ ", "work"), ("Café", "café")],
)
def test_normalize_label(raw: str, label: str) -> None:
    assert normalize_label(raw) == label
