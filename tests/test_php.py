"""PHP blocks removed from a kit's page: strings, comments and heredocs read as PHP reads them."""

from __future__ import annotations

import pytest

from leadkit.php import PhpBlock, strip_php

# -- PHP ----------------------------------------------------------------------


@pytest.mark.parametrize("source, text, codes", [
    pytest.param("<p><?php echo $title; ?></p>", "<p></p>", ["<?php echo $title; ?>"], id="echo"),
    pytest.param("<?php include 'config.php'; ?>\n<!DOCTYPE html>", "<!DOCTYPE html>",
                 ["<?php include 'config.php'; ?>"], id="include-eats-its-newline"),
    pytest.param("<?php x(); ?>\r\nA", "A", ["<?php x(); ?>"], id="crlf-eaten"),
    pytest.param("<?php x(); ?>\n\nA", "\nA", ["<?php x(); ?>"], id="one-newline-only"),
    pytest.param("<b><?= $price ?></b>", "<b></b>", ["<?= $price ?>"], id="short-echo"),
    pytest.param("<? echo 1 ?>x", "x", ["<? echo 1 ?>"], id="short-open-tag"),
    pytest.param("""<?php $a = "?>"; $b = '\\'?>'; /* ?> */ ?>x""", "x", None, id="strings-and-block-comment"),
    pytest.param("<?php // note ?>x", "x", ["<?php // note ?>"], id="line-comment-ends-at-close"),
    pytest.param("<?php # note ?>x", "x", None, id="hash-comment-ends-at-close"),
    pytest.param("<?php // a '\n$b = 1; ?>x", "x", None, id="quote-in-comment"),
    pytest.param("<?php $s = <<<EOT\n?>\n  EOT;\n?>x", "x", None, id="heredoc"),
    pytest.param("a<?php echo 1;\n\nb", "a", ["<?php echo 1; b"], id="unclosed-runs-to-the-end"),
    pytest.param('<?xml version="1.0"?><svg/>', '<?xml version="1.0"?><svg/>', [], id="xml-declaration-kept"),
    pytest.param("no php here", "no php here", [], id="none"),
])
def test_php_blocks_are_removed(source: str, text: str, codes: list[str] | None) -> None:
    stripped, blocks = strip_php(source)
    assert stripped == text
    if codes is not None:
        assert [block.code for block in blocks] == codes
    else:
        assert len(blocks) == 1


def test_php_blocks_know_their_line() -> None:
    source = "<html>\n<?php\n  $a = 1;\n?>\n<p><?= $a ?></p>\n<?php $b ?>"
    stripped, blocks = strip_php(source)
    assert stripped == "<html>\n<p></p>\n"
    assert blocks == (PhpBlock(2, "<?php $a = 1; ?>"), PhpBlock(5, "<?= $a ?>"), PhpBlock(6, "<?php $b ?>"))


def test_a_long_block_is_shown_short_on_one_line() -> None:
    (_, (block,)) = strip_php("<?php\n" + "$x = 1;\n" * 40 + "?>")
    assert len(block.code) == 60 and "\n" not in block.code and block.code.startswith("<?php $x = 1; $x")
