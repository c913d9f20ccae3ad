"""Editing a page in place: a start tag rewritten with only the attributes that change."""

from __future__ import annotations

from leadkit.htmlscan import StartTag, edited_tag


def test_a_tag_the_attribute_scan_misreads_is_written_whole() -> None:
    # Where a Python version's tokenizer reads a tag unlike leadkit's copy of its attribute syntax, the
    # tag is written anew from what the tokenizer read: still one attribute per value, each quoted.
    misread = StartTag("input", [("name", "sub1"), ("value", "{sub1}"), ("required", None)], 0, 30,
                       "<INPUT name=sub1 value=x required/>", self_closing=True)
    assert edited_tag(misread, {"value": 'a" b', "autofocus": True}) == \
        '<input name="sub1" value="a&quot; b" required autofocus/>'
