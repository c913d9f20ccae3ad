"""leadkit.territories, the official languages of every country, against Babel's own answers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.core import get_global
from babel.languages import get_official_languages

from leadkit import territories
from leadkit.i18n import country_languages, official_languages

ROOT = Path(__file__).resolve().parent.parent
SAME_CLDR = get_global("cldr")["version"] == territories.CLDR
REASON = (f"the installed Babel carries CLDR {get_global('cldr')['version']}, leadkit/territories.py was made from "
          f"CLDR {territories.CLDR}: run `make territories` and commit what changes")


@pytest.mark.skipif(not SAME_CLDR, reason=REASON)
@pytest.mark.parametrize("de_facto", [False, True])
def test_every_territory_has_babels_languages_in_babels_order(de_facto: bool) -> None:
    every = sorted(get_global("territory_languages"))
    assert len(every) > 200
    for code in every:
        assert official_languages(code, de_facto) == get_official_languages(code, de_facto=de_facto), code
        assert official_languages(code.lower(), de_facto) == get_official_languages(code, de_facto=de_facto)


@pytest.mark.skipif(not SAME_CLDR, reason=REASON)
def test_the_generator_writes_the_file_as_committed(tmp_path: Path) -> None:
    script = (ROOT / "scripts" / "territories.py").read_text()
    copy = tmp_path / "scripts" / "territories.py"
    copy.parent.mkdir()
    (tmp_path / "leadkit").mkdir()
    copy.write_text(script)
    subprocess.run([sys.executable, str(copy)], check=True, capture_output=True, cwd=tmp_path)
    assert (tmp_path / "leadkit" / "territories.py").read_text() == (ROOT / "leadkit" / "territories.py").read_text()


def test_a_country_gets_its_languages_and_anything_else_none() -> None:
    assert country_languages("kz") == ("ru", "kk")
    assert country_languages("CH")[:1] == ("de",) and {"fr", "it"} <= set(country_languages("ch"))
    assert country_languages("rs")[0] == "sr"  # sr_Latn and sr: one language, once
    assert country_languages("zz") == () and country_languages("") == () and country_languages("k\x00") == ()


def test_no_babel_global_data_for_the_language_of_a_country() -> None:
    code = ("import babel.core, leadkit.i18n as i; "
            "assert i.choose_language(countries=['kz', 'ua'], accept_language='kk') == 'kk'; "
            "assert babel.core._global_data is None, 'Babel loaded its global data'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
