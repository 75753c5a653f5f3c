"""The conservative three-way merge that rebases agent proposals, and the note diff."""

import random

import pytest

from ainotes.agent_actions.merge import Conflict, MergeResult, merge3, unified_diff

# (base, ours, theirs, expected): expected is the merged text, or the conflicts reported.
# "ours" is the agent's proposal, "theirs" the note as a human has since saved it.
MERGES = [
    pytest.param(
        "1\n2\n3\n4\n5\n6\n",
        "one\n2\n3\n4\n5\n6\n",
        "1\n2\n3\n4\n5\nsix\n",
        "one\n2\n3\n4\n5\nsix\n",
        id="edits-far-apart-merge",
    ),
    pytest.param(
        "a\nb\nc\n",
        "a\nB\nc\n",
        "a\nB\nc\nd\n",
        "a\nB\nc\nd\n",
        id="same-edit-on-both-sides-once",
    ),
    pytest.param(
        "a\nc\nx\ny\n",
        "a\nb\nc\nx\nY\n",
        "a\nb\nc\nx\ny\n",
        "a\nb\nc\nx\nY\n",
        id="same-insertion-on-both-sides-once",
    ),
    pytest.param(
        "a\nb\nc\nd\n",
        "a\nB1\nC1\nd\n",
        "a\nb\nC2\nd\n",
        (Conflict(2, ("b", "c"), ("B1", "C1"), ("b", "C2")),),
        id="overlapping-edits-conflict",
    ),
    pytest.param(
        "1\n2\n3\n4\n5\n",
        "1\n2\n3\nfour\n5\n",
        "1\n2\nthree\n4\n5\n",
        (Conflict(3, ("3", "4"), ("3", "four"), ("three", "4")),),
        id="adjacent-line-edits-conflict",
    ),
    pytest.param(
        "a\n",
        "a\nb\n",
        "a\nc\n",
        (Conflict(2, (), ("b",), ("c",)),),
        id="different-appends-conflict",
    ),
    pytest.param(
        "a\nb\n",
        "X\na\nb\n",
        "Y\na\nb\n",
        (Conflict(1, (), ("X",), ("Y",)),),
        id="different-insertions-at-top-conflict",
    ),
    pytest.param(
        "a\nb\nc\nd\ne\n",
        "a\nd\ne\n",
        "a\nb\nc\nd\nE\n",
        "a\nd\nE\n",
        id="deletion-applies",
    ),
    pytest.param(
        "a\nb\nc\n",
        "a\nc\n",
        "a\nB\nc\n",
        (Conflict(2, ("b",), (), ("B",)),),
        id="delete-vs-edit-conflicts",
    ),
    pytest.param(
        "a\nb\nc\nd\ne\n",
        "A1\nb\nc\nd\nE1\n",
        "A2\nb\nc\nd\nE2\n",
        (Conflict(1, ("a",), ("A1",), ("A2",)), Conflict(5, ("e",), ("E1",), ("E2",))),
        id="every-conflict-reported-in-order",
    ),
    pytest.param(
        # diff-match-patch applied the agent's change on the wrong line here.
        "Alpha line.\nBeta line.\n",
        "Alpha line.\nBeta line, revised by the agent.\n",
        "Alpha line.\nBeta line, edited by a human.\n",
        (
            Conflict(
                2,
                ("Beta line.",),
                ("Beta line, revised by the agent.",),
                ("Beta line, edited by a human.",),
            ),
        ),
        id="diff-match-patch-trap-conflicts",
    ),
    pytest.param(
        "a\r\nb\r\nc\r\nd\r\n",
        "A\r\nb\r\nc\r\nd\r\n",
        "a\r\nb\r\nc\r\nD\r\n",
        "A\r\nb\r\nc\r\nD\r\n",
        id="crlf-preserved",
    ),
    pytest.param(
        "a\r\nb\r\n",
        "a\r\nX\r\n",
        "a\r\nY\r\n",
        (Conflict(2, ("b",), ("X",), ("Y",)),),
        id="crlf-conflict-lines-bare",
    ),
    pytest.param(
        "a\nb\nc",
        "A\nb\nc",
        "a\nb\nC",
        "A\nb\nC",
        id="missing-final-newline-kept",
    ),
    pytest.param(
        "a\nb\nc",
        "a\nb\nc\nd",
        "A\nb\nc",
        "A\nb\nc\nd",
        id="append-after-missing-final-newline",
    ),
    pytest.param(
        # Adding the newline changes the last line, so it collides with the other edit.
        "a\nb",
        "a\nb\n",
        "a\nB",
        (Conflict(2, ("b",), ("b",), ("B",)),),
        id="final-newline-vs-edit-conflicts",
    ),
    pytest.param("", "a\n", "", "a\n", id="empty-base-one-side"),
    pytest.param("", "a\n", "a\n", "a\n", id="empty-base-same-text"),
    pytest.param("", "a\n", "b\n", (Conflict(1, (), ("a",), ("b",)),), id="empty-base-conflict"),
    pytest.param("", "", "", "", id="all-empty"),
    pytest.param(
        "a\nb\n",
        "",
        "a\nb\nc\n",
        (Conflict(1, ("a", "b"), (), ("a", "b", "c")),),
        id="cleared-vs-append-conflicts",
    ),
]


@pytest.mark.parametrize(("base", "ours", "theirs", "expected"), MERGES)
def test_merge3(base: str, ours: str, theirs: str, expected: str | tuple[Conflict, ...]) -> None:
    result = merge3(base, ours, theirs)
    if isinstance(expected, str):
        assert result == MergeResult(expected, ())
        assert result.clean
    else:
        assert result == MergeResult(None, expected)
        assert not result.clean


def _rng(seed: int) -> random.Random:
    # Seeded so a failure reproduces; nothing here needs unpredictability.
    return random.Random(seed)  # noqa: S311


LINES = ["a\n", "b\n", "c\n", "\n", "# Heading\n"]


def _mutate(rng: random.Random, lines: list[str]) -> list[str]:
    """A few random line replacements, deletions and insertions, repeats welcome."""
    out = list(lines)
    for _ in range(rng.randint(0, 3)):
        at = rng.randint(0, len(out))
        kind = rng.choice(["insert", "delete", "replace"])
        if kind == "insert" or at == len(out):
            out.insert(at, rng.choice(LINES))
        elif kind == "delete":
            del out[at]
        else:
            out[at] = rng.choice(LINES)
    return out


@pytest.mark.parametrize("seed", range(20))
def test_one_sided_edits_win(seed: int) -> None:
    rng = _rng(seed)
    for _ in range(50):
        base = "".join(rng.choices(LINES, k=rng.randint(0, 8)))
        edited = "".join(_mutate(rng, base.splitlines(keepends=True)))
        assert merge3(base, edited, base) == MergeResult(edited, ())
        assert merge3(base, base, edited) == MergeResult(edited, ())


@pytest.mark.parametrize("seed", range(20))
def test_merge_is_symmetric(seed: int) -> None:
    """Swapping the sides swaps the conflicts and changes nothing else, duplicate lines or not."""
    rng = _rng(seed)
    for _ in range(50):
        base = rng.choices(LINES, k=rng.randint(0, 8))
        ours, theirs = "".join(_mutate(rng, base)), "".join(_mutate(rng, base))
        forward = merge3("".join(base), ours, theirs)
        backward = merge3("".join(base), theirs, ours)
        assert forward.text == backward.text
        assert forward.conflicts == tuple(
            Conflict(c.base_start, c.base, c.theirs, c.ours) for c in backward.conflicts
        )


@pytest.mark.parametrize("seed", range(20))
def test_edits_separated_by_an_unchanged_line_merge(seed: int) -> None:
    rng = _rng(seed)
    for _ in range(50):
        n = rng.randint(1, 12)
        base = [f"line {i}\n" for i in range(n)]
        keep = rng.randrange(n)  # the base line neither side touches
        above = sorted(rng.randint(0, keep) for _ in range(2))
        below = sorted(rng.randint(keep + 1, n) for _ in range(2))
        new_above = [f"above {k}\n" for k in range(rng.randint(0, 3))]
        new_below = [f"below {k}\n" for k in range(rng.randint(0, 3))]
        upper = base[: above[0]] + new_above + base[above[1] :]
        lower = base[: below[0]] + new_below + base[below[1] :]
        both = (
            base[: above[0]] + new_above + base[above[1] : below[0]] + new_below + base[below[1] :]
        )
        ours, theirs = (upper, lower) if rng.random() < 0.5 else (lower, upper)
        result = merge3("".join(base), "".join(ours), "".join(theirs))
        assert result == MergeResult("".join(both), ())


def test_unified_diff_of_equal_texts_is_empty() -> None:
    assert unified_diff("same\n", "same\n", name="note.md") == ""
    assert unified_diff("", "", name="note.md") == ""


def test_unified_diff_title_change() -> None:
    before = "# Old title\n\nbody\n"
    after = "# New title\n\nbody\n"
    assert unified_diff(before, after, name="note.md") == (
        "--- a/note.md\n+++ b/note.md\n@@ -1,3 +1,3 @@\n-# Old title\n+# New title\n \n body\n"
    )


def test_unified_diff_keeps_three_lines_of_context() -> None:
    before = "".join(f"{i}\n" for i in range(1, 21))
    after = before.replace("10\n", "ten\n")
    assert unified_diff(before, after, name="n.md") == (
        "--- a/n.md\n+++ b/n.md\n@@ -7,7 +7,7 @@\n 7\n 8\n 9\n-10\n+ten\n 11\n 12\n 13\n"
    )


def test_unified_diff_marks_a_missing_final_newline() -> None:
    assert unified_diff("a\nb", "a\nb\n", name="n.md") == (
        "--- a/n.md\n+++ b/n.md\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n"
    )
    assert unified_diff("a\n", "a\nb", name="n.md") == (
        "--- a/n.md\n+++ b/n.md\n@@ -1 +1,2 @@\n a\n+b\n\\ No newline at end of file\n"
    )


def test_unified_diff_from_and_to_empty() -> None:
    assert unified_diff("", "a\n", name="n.md") == "--- a/n.md\n+++ b/n.md\n@@ -0,0 +1 @@\n+a\n"
    assert unified_diff("a\n", "", name="n.md") == "--- a/n.md\n+++ b/n.md\n@@ -1 +0,0 @@\n-a\n"


def _apply(before: str, diff: str) -> str:
    """A strict patch(1): every context and removed line must match where the hunk says."""
    if not diff:
        return before
    parts = before.split("\n")
    old = [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    records = diff.split("\n")[:-1]  # every record, marker included, ends with "\n"
    assert records[0].startswith("--- a/")
    assert records[1].startswith("+++ b/")
    out: list[str] = []
    pos, previous = 0, "@"
    for record in records[2:]:
        tag, text = record[0], record[1:] + "\n"
        if tag == "@":
            start, _, length = record.split()[1][1:].partition(",")
            hunk_at = int(start) - (0 if length == "0" else 1)
            assert hunk_at >= pos
            out += old[pos:hunk_at]
            pos = hunk_at
        elif tag == "\\":
            # The line just before had no newline: in the old text, the new one, or both.
            if previous in " -":
                assert not old[pos - 1].endswith("\n")
            if previous in " +":
                out[-1] = out[-1].removesuffix("\n")
        elif tag in " -":
            assert old[pos].removesuffix("\n") == text.removesuffix("\n")
            pos += 1
            if tag == " ":
                out.append(text)
        else:
            assert tag == "+"
            out.append(text)
        previous = tag
    return "".join(out + old[pos:])


@pytest.mark.parametrize("seed", range(20))
def test_unified_diff_applies(seed: int) -> None:
    rng = _rng(seed)
    for _ in range(50):
        before = rng.choices([*LINES, "x\r\n"], k=rng.randint(0, 12))
        after = _mutate(rng, before)
        before_text, after_text = "".join(before), "".join(after)
        # Sometimes drop a final newline on either side to exercise the marker.
        if rng.random() < 0.3:
            before_text = before_text.removesuffix("\n")
        if rng.random() < 0.3:
            after_text = after_text.removesuffix("\n")
        diff = unified_diff(before_text, after_text, name="n.md")
        assert (diff == "") == (before_text == after_text)
        assert _apply(before_text, diff) == after_text
