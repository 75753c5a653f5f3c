"""Line-based three-way merge for rebasing an agent's proposed edit onto the current note.

An agent proposes ``ours`` against the version it read (``base``); if a human has since saved
``theirs``, the proposal must be carried over without silently losing or misplacing anyone's
words. This is diff3 with a deliberately conservative bias: two changes merge only when at least
one base line both sides left alone separates them. Anything closer is reported as a conflict
for a person to resolve, because a wrong clean merge is worse than an honest conflict. Fuzzy
patchers (diff-match-patch) were rejected for exactly that: one applied an edit on the wrong line.
"""

from dataclasses import dataclass
from difflib import SequenceMatcher

# Context lines around each hunk, as git and patch(1) expect by default.
_CONTEXT = 3


@dataclass(frozen=True, slots=True)
class Conflict:
    """A region both sides changed differently. Lines carry no line endings.

    ``base_start`` is the 1-based base line the region starts at; when both sides insert at the
    same point (``base`` is empty) it is the line the insertions go before, which is one past the
    last line for an insertion at the end.
    """

    base_start: int
    base: tuple[str, ...]
    ours: tuple[str, ...]
    theirs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MergeResult:
    text: str | None
    conflicts: tuple[Conflict, ...]

    @property
    def clean(self) -> bool:
        return not self.conflicts


def merge3(base: str, ours: str, theirs: str) -> MergeResult:
    """Merge ``ours`` and ``theirs``, both edits of ``base``; ``text`` is None on conflict."""
    if ours in (base, theirs):
        return MergeResult(theirs, ())
    if theirs == base:
        return MergeResult(ours, ())
    # keepends: line endings (CRLF, a missing final newline) survive the merge byte for byte.
    b, o, t = (s.splitlines(keepends=True) for s in (base, ours, theirs))
    merged: list[str] = []
    conflicts: list[Conflict] = []
    bi = oi = ti = 0
    for b_at, o_at, t_at, size in _sync_regions(b, o, t):
        base_gap, ours_gap, theirs_gap = b[bi:b_at], o[oi:o_at], t[ti:t_at]
        if ours_gap == base_gap:
            merged += theirs_gap
        elif theirs_gap in (base_gap, ours_gap):
            merged += ours_gap
        else:
            conflicts.append(Conflict(bi + 1, _bare(base_gap), _bare(ours_gap), _bare(theirs_gap)))
        merged += b[b_at : b_at + size]
        bi, oi, ti = b_at + size, o_at + size, t_at + size
    if conflicts:
        return MergeResult(None, tuple(conflicts))
    return MergeResult("".join(merged), ())


def _sync_regions(
    base: list[str], ours: list[str], theirs: list[str]
) -> list[tuple[int, int, int, int]]:
    """Runs of base lines both sides kept, as (base, ours, theirs, length) start indexes.

    Ends with an empty region at the three ends so the caller also handles the final gap.
    """
    ours_blocks = _matches(base, ours)
    theirs_blocks = _matches(base, theirs)
    regions: list[tuple[int, int, int, int]] = []
    i = j = 0
    while i < len(ours_blocks) and j < len(theirs_blocks):
        ob, oo, on = ours_blocks[i]
        tb, tt, tn = theirs_blocks[j]
        start, end = max(ob, tb), min(ob + on, tb + tn)
        if start < end:
            regions.append((start, oo + start - ob, tt + start - tb, end - start))
        # Advance whichever block ends first; the other may still overlap the next one.
        if ob + on < tb + tn:
            i += 1
        else:
            j += 1
    regions.append((len(base), len(ours), len(theirs), 0))
    return regions


def _matches(a: list[str], b: list[str]) -> list[tuple[int, int, int]]:
    # autojunk would treat frequent lines (blank lines in markdown) as noise in long notes and
    # misalign the sides; exact matching is what makes the merge trustworthy.
    blocks = SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
    return [(m.a, m.b, m.size) for m in blocks if m.size]


def _bare(lines: list[str]) -> tuple[str, ...]:
    return tuple(line.splitlines()[0] for line in lines)


def unified_diff(before: str, after: str, *, name: str) -> str:
    """A git-style unified diff of one note, or "" when nothing changed."""
    if before == after:
        return ""
    a, b = _diff_lines(before), _diff_lines(after)
    out = [f"--- a/{name}\n", f"+++ b/{name}\n"]
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    for group in matcher.get_grouped_opcodes(_CONTEXT):
        _, a1, _, b1, _ = group[0]
        _, _, a2, _, b2 = group[-1]
        out.append(f"@@ -{_hunk_range(a1, a2)} +{_hunk_range(b1, b2)} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += (_record(" ", line) for line in a[i1:i2])
                continue
            out += (_record("-", line) for line in a[i1:i2])
            out += (_record("+", line) for line in b[j1:j2])
    return "".join(out)


def _diff_lines(text: str) -> list[str]:
    # Patch records are "\n"-terminated, so split on "\n" alone (as git does); splitlines()
    # would also break on "\r", form feeds and U+2028 and yield records patch cannot apply.
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _record(prefix: str, line: str) -> str:
    if line.endswith("\n"):
        return prefix + line
    return f"{prefix}{line}\n\\ No newline at end of file\n"


def _hunk_range(start: int, stop: int) -> str:
    # Unified-diff convention: 1-based start, length omitted when 1, and an empty range
    # names the line before it (0 at the top of the file).
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"
