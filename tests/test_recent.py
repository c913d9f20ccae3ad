"""leadkit.recent.Recent: a bounded memo, the entry written first going first."""

from __future__ import annotations

from leadkit.recent import Recent


def test_the_oldest_entry_goes_when_a_new_one_comes_to_a_full_memo() -> None:
    recent: Recent[str, int] = Recent(3)
    for n, key in enumerate("abcd"):
        recent.put(key, n)
    assert len(recent) == 3
    assert [recent.get(key) for key in "abcd"] == [None, 1, 2, 3]


def test_writing_a_key_again_changes_its_value_and_drops_nothing() -> None:
    recent: Recent[str, int] = Recent(2)
    recent.put("a", 1)
    recent.put("b", 2)
    recent.put("a", 10)
    assert (recent.get("a"), recent.get("b"), len(recent)) == (10, 2, 2)
