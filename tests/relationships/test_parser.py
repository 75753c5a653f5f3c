from ainotes.relationships.parser import (
    MAX_CONTEXT_CHARS,
    MAX_LINKS_PER_NOTE,
    MAX_TARGET_CHARS,
    normalize_title,
    parse_links,
    title_key,
)


def titles(markdown: str) -> list[str]:
    return [link.title for link in parse_links(markdown)]


class TestLinkForms:
    def test_plain_link(self) -> None:
        [link] = parse_links("See [[Project Plan]] for details.")
        assert (link.title, link.key, link.alias, link.heading) == (
            "Project Plan",
            "project plan",
            None,
            None,
        )

    def test_alias_is_split_off(self) -> None:
        [link] = parse_links("[[Project Plan|the plan]]")
        assert (link.title, link.alias, link.heading) == ("Project Plan", "the plan", None)

    def test_heading_is_split_off(self) -> None:
        [link] = parse_links("[[Project Plan#Budget]]")
        assert (link.title, link.alias, link.heading) == ("Project Plan", None, "Budget")

    def test_heading_and_alias_together(self) -> None:
        [link] = parse_links("[[Project Plan#Budget|money]]")
        assert (link.title, link.alias, link.heading) == ("Project Plan", "money", "Budget")

    def test_embed_counts_as_a_link(self) -> None:
        assert titles("![[Diagram]]") == ["Diagram"]

    def test_several_links_keep_their_order(self) -> None:
        assert titles("[[B]] then [[A]], later [[C]]") == ["B", "A", "C"]


class TestNotLinks:
    def test_empty_brackets(self) -> None:
        assert parse_links("[[]] and [[   ]] and [[|alias]]") == []

    def test_heading_of_the_same_note(self) -> None:
        assert parse_links("[[#Section]]") == []

    def test_single_brackets(self) -> None:
        assert parse_links("[Title] and [Title](http://x) and [[Title]") == []

    def test_link_across_lines(self) -> None:
        assert parse_links("[[Half\nTitle]]") == []

    def test_target_longer_than_any_title(self) -> None:
        assert parse_links(f"[[{'x' * (MAX_TARGET_CHARS + 1)}]]") == []
        assert titles(f"[[{'x' * MAX_TARGET_CHARS}]]") == ["x" * MAX_TARGET_CHARS]


class TestNestedBrackets:
    def test_innermost_pair_wins(self) -> None:
        assert titles("[[outer [[Inner]] rest]]") == ["Inner"]

    def test_triple_brackets(self) -> None:
        assert titles("[[[Title]]]") == ["Title"]

    def test_adjacent_links(self) -> None:
        assert titles("[[A]][[B]]") == ["A", "B"]


class TestDuplicates:
    def test_same_title_in_other_case_is_one_link(self) -> None:
        links = parse_links("[[Plan|first]] and [[plan#Later]] and [[PLAN]]")
        assert [(link.title, link.alias, link.heading) for link in links] == [
            ("Plan", "first", None)
        ]

    def test_whitespace_variants_are_one_link(self) -> None:
        assert titles("[[ My   Plan ]] and [[My Plan]]") == ["My Plan"]

    def test_links_per_note_are_bounded(self) -> None:
        body = " ".join(f"[[T{i}]]" for i in range(MAX_LINKS_PER_NOTE + 5))
        links = parse_links(body)
        assert len(links) == MAX_LINKS_PER_NOTE
        assert links[-1].title == f"T{MAX_LINKS_PER_NOTE - 1}"


class TestCode:
    def test_inline_code_span(self) -> None:
        assert titles("Use `[[Not a link]]` but [[Real]]") == ["Real"]

    def test_double_backtick_span_with_a_backtick_inside(self) -> None:
        assert titles("``a ` [[Hidden]]`` [[Shown]]") == ["Shown"]

    def test_unmatched_backtick_is_literal(self) -> None:
        assert titles("a ` stray backtick [[Shown]]") == ["Shown"]

    def test_code_span_across_lines_of_a_paragraph(self) -> None:
        assert titles("start `code\n[[Hidden]]` end\n\n[[Shown]]") == ["Shown"]

    def test_code_span_does_not_cross_a_blank_line(self) -> None:
        assert titles("a ` b\n\n[[Shown]] ` c") == ["Shown"]

    def test_backtick_fence(self) -> None:
        body = "before [[A]]\n```python\nx = '[[Hidden]]'\n```\nafter [[B]]"
        assert titles(body) == ["A", "B"]

    def test_tilde_fence_with_longer_closing(self) -> None:
        body = "~~~\n[[Hidden]]\n~~~~~\n[[Shown]]"
        assert titles(body) == ["Shown"]

    def test_fence_closes_only_with_its_own_character_and_length(self) -> None:
        body = "````\n```\n[[Hidden]]\n~~~~\n````\n[[Shown]]"
        assert titles(body) == ["Shown"]

    def test_unclosed_fence_runs_to_the_end(self) -> None:
        assert titles("[[A]]\n```\n[[Hidden]]\n\n[[Also hidden]]") == ["A"]

    def test_indented_fence(self) -> None:
        assert titles("   ```\n[[Hidden]]\n   ```\n[[Shown]]") == ["Shown"]

    def test_backticks_in_info_string_are_not_a_fence(self) -> None:
        assert titles("``` a`b\n[[Shown]]") == ["Shown"]

    def test_indented_list_continuation_is_not_code(self) -> None:
        assert titles("- item\n\n    continued with [[Shown]]") == ["Shown"]


class TestContext:
    def test_context_is_the_line(self) -> None:
        [link] = parse_links("# Title\n\n  See [[Plan]] today.  \nNext line.")
        assert link.context == "See [[Plan]] today."

    def test_long_line_gives_the_sentence(self) -> None:
        filler = "Filler words go here. " * 20
        line = f"{filler}This sentence mentions [[Plan]] once. {filler}"
        [link] = parse_links(line)
        assert link.context == "This sentence mentions [[Plan]] once."

    def test_long_sentence_is_cut_around_the_link(self) -> None:
        line = "word " * 200 + "[[Plan]]" + " word" * 200
        [link] = parse_links(line)
        assert "[[Plan]]" in link.context
        assert link.context.startswith("…")
        assert link.context.endswith("…")
        assert len(link.context) <= MAX_CONTEXT_CHARS + 2


class TestTitleKeys:
    def test_casefold_goes_beyond_lower(self) -> None:
        assert title_key("Straße") == title_key("STRASSE")

    def test_unicode_normalization(self) -> None:
        assert title_key("Cafe\u0301") == title_key("Café")

    def test_normalize_keeps_case(self) -> None:
        assert normalize_title("  Big \t Plan ") == "Big Plan"
