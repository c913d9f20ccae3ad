"""The settings of the loop after the order, as the operator writes them: ``[[postback]]``, ``[capi.facebook]``
and ``[capi.tiktok]``, ``[pixels]``, ``[sync]`` and ``offer.source = "{sub1}"``, from a TOML file
(:func:`~leadkit.config_file.load_config`) and from Python (:func:`~leadkit.config_file.config_from_mapping`);
then what ``offer.source = "{sub1}"`` sends (:func:`leadkit.payload.build_payload`).

Every problem names its key and its stable id; a token never appears in a problem's text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pytest

from leadkit.config import Config
from leadkit.config_file import config_from_mapping, load_config
from leadkit.errors import ConfigError, Problem
from leadkit.form import Order
from leadkit.lead import Lead
from leadkit.payload import build_payload
from leadkit.phone import parse_phone
from leadkit.postbacks import PostbackConfig
from leadkit.visitor import Visitor
from support import KEY, SECRET

TOKEN = "EAAB0test0Token0ZXhhbXBsZQ0123456789abcdef"
TIKTOK_TOKEN = "tt0test0token0abcdef0123456789"
PIXEL = "123456789012345"
TT_PIXEL = "C4ABCDEFGHIJKLMNOPQR"
TRACKER = "https://tracker.example/postback"


def head(role: str = "ext", dialect: str = "dalead", *, source: str | None = None) -> str:
    """The required sections of a file, for ``role`` and ``dialect``."""
    offer = {"wm": "flow = 42", "ext": f'source = "{source or "77"}"', "comp": ""}[role]
    return f"""\
[network]
api = "https://lk.dalead.pro/api"
key = "{KEY}"
role = "{role}"
dialect = "{dialect}"

[offer]
offer = 217
country = "kz"
{offer}

[site]
secret = "{SECRET}"
"""


def load(tmp_path: Path, body: str = "", *, role: str = "ext", dialect: str = "dalead", source: str | None = None,
         environ: Mapping[str, str] | None = None, **sections: Any) -> Config:
    """The configuration of a file of the required sections and ``body``, loaded as the server loads it."""
    path = tmp_path / "leadkit.toml"
    # ``body`` first: its top-level keys (``capi = {...}``) would otherwise belong to [site]
    path.write_text(body + "\n" + head(role, dialect, source=source), encoding="utf-8")
    return load_config(path, environ=dict(environ or {}), **sections)


def refused(tmp_path: Path, body: str = "", **given: Any) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, body, **given)
    return list(info.value.problems)


def mapping(role: str = "ext", dialect: str = "dalead", **sections: Any) -> dict[str, Any]:
    """The required sections as Python mappings, with ``sections`` added."""
    data: dict[str, Any] = {
        "network": {"api": "https://lk.dalead.pro/api", "key": KEY, "role": role, "dialect": dialect},
        "offer": {"offer": 217, "country": "kz", **({"flow": 42} if role == "wm" else {}),
                  **({"source": "77"} if role == "ext" else {})},
        "site": {"secret": SECRET},
    }
    for name, values in sections.items():
        if isinstance(values, Mapping) and isinstance(data.get(name), Mapping):
            data[name] = {**data[name], **values}
        else:
            data[name] = values
    return data


def mapping_refused(data: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        config_from_mapping(data, environ=dict(environ or {}))
    return list(info.value.problems)


def ids(problems: list[Problem]) -> list[tuple[str | None, str]]:
    return [(problem.key, problem.id) for problem in problems]


# -- [[postback]] ---------------------------------------------------------------------------------


def test_postback_tables_are_read(tmp_path: Path) -> None:
    config = load(tmp_path, f"""
[[postback]]
url = "{TRACKER}?subid={{subid}}&status={{status}}&payout={{payout}}&cur={{currency}}"
events = ["lead", "approve", "cancel", "trash"]
status = {{ lead = "lead", approve = "sale", cancel = "rejected", trash = "rejected" }}
name = "keitaro"

[[postback]]
url = "https://binom.example/click.php?cnv_id={{sub1}}&cnv_status={{stage}}"
method = "post"
events = ["hold", "approve"]
""")
    keitaro, binom = config.postbacks
    url = f"{TRACKER}?subid={{subid}}&status={{status}}&payout={{payout}}&cur={{currency}}"
    assert keitaro == PostbackConfig(url=url, method="GET", events=("lead", "approve", "cancel", "trash"),
                                     status={"lead": "lead", "approve": "sale", "cancel": "rejected",
                                             "trash": "rejected"}, name="keitaro")
    assert (binom.method, binom.events, binom.status, binom.name) == ("POST", ("hold", "approve"), {}, None)


def test_without_postbacks_there_are_none(tmp_path: Path) -> None:
    assert load(tmp_path).postbacks == ()


def test_a_postback_argument_replaces_the_files(tmp_path: Path) -> None:
    config = load(tmp_path, f'[[postback]]\nurl = "{TRACKER}?a={{subid}}"\n',
                  postback=[{"url": f"{TRACKER}?b={{sub2}}", "events": ["approve"]}])
    assert [(p.url, p.events) for p in config.postbacks] == [(f"{TRACKER}?b={{sub2}}", ("approve",))]


@pytest.mark.parametrize(("body", "key"), [
    pytest.param(f'[postback]\nurl = "{TRACKER}"\n', "[postback]", id="a-table-not-a-list"),
    pytest.param(f'postback = "{TRACKER}"\n', "[postback]", id="a-string"),
    pytest.param(f'postback = ["{TRACKER}"]\n', "postback[0]", id="a-list-of-strings"),
])
def test_a_postback_that_is_not_a_list_of_tables_is_refused(tmp_path: Path, body: str, key: str) -> None:
    [problem] = refused(tmp_path, body)
    assert (problem.key, problem.id) == (key, "leadkit.E008")
    assert "table" in problem.message and TRACKER not in problem.message
    if key == "[postback]":
        assert "[[postback]]" in problem.message and "postback=[{...}]" in problem.message


def test_a_postback_as_a_mapping_in_python_is_refused() -> None:
    [problem] = mapping_refused(mapping(postback={"url": TRACKER}))
    assert (problem.key, problem.id) == ("[postback]", "leadkit.E008")
    assert "(got dict)" in problem.message


@pytest.mark.parametrize(("key", "hint"), [
    pytest.param("evnets", "did you mean 'events'"),
    pytest.param("token", "known: url, method, events, status, name"),
])
def test_an_unknown_postback_key_is_named_without_its_value(tmp_path: Path, key: str, hint: str) -> None:
    problems = refused(tmp_path, f'[[postback]]\nurl = "{TRACKER}"\n\n[[postback]]\nurl = "{TRACKER}"\n'
                                 f'{key} = "{TOKEN}"\n')
    assert ids(problems) == [(f"postback[1].{key}", "leadkit.E009")]
    assert f"postback[1].{key}" in problems[0].message and hint in problems[0].message
    assert TOKEN not in problems[0].message and problems[0].value is None


@pytest.mark.parametrize("url", [
    pytest.param("ftp://tracker.example/postback", id="ftp"),
    pytest.param("tracker.example/pb?sid={subid}", id="no-scheme"),
    pytest.param("https:///postback", id="no-host"),
    pytest.param("https://user:hunter2pass@tracker.example/postback", id="password"),
    pytest.param("https://tracker.example/postback?subid={subid}#top", id="fragment"),
    pytest.param("https://tracker.example/post back", id="space"),
    pytest.param("https://{subid}.example/postback", id="macro-in-host"),
    pytest.param("https://tracker.example/postback?subid={sub id}", id="macro-with-space"),
    pytest.param("https://tracker.example/postback?subid={subid", id="lone-brace"),
    pytest.param("https://tracker.example:99999/postback", id="bad-port"),
    pytest.param("", id="empty"),
])
def test_a_bad_postback_url_is_refused(tmp_path: Path, url: str) -> None:
    problems = refused(tmp_path, f'[[postback]]\nurl = "{url}"\n')
    assert ids(problems) == [("postback[0].url", "leadkit.E130")]
    assert problems[0].message.startswith("postback[0].url ")
    if url:
        assert url not in problems[0].message, "a tracker's URL may hold its postback key: never repeated"
    assert "hunter2pass" not in problems[0].message


def test_a_postback_url_given_as_a_number_is_refused(tmp_path: Path) -> None:
    assert ids(refused(tmp_path, "[[postback]]\nurl = 42\n")) == [("postback[0].url", "leadkit.E130")]


def test_a_postback_without_url_is_refused(tmp_path: Path) -> None:
    problems = refused(tmp_path, f'[[postback]]\nurl = "{TRACKER}"\n\n[[postback]]\nevents = ["approve"]\n')
    assert [problem.key for problem in problems] == ["postback[1].url"]
    assert "postback[1].url" in problems[0].message


def test_an_unknown_macro_is_named_with_a_hint(tmp_path: Path) -> None:
    problems = refused(tmp_path, f'[[postback]]\nurl = "{TRACKER}?s={{subidd}}&p={{payuot}}&x={{zzzzzz}}"\n')
    assert ids(problems) == [("postback[0].url", "leadkit.E136")] * 3
    subidd, payuot, zzzzzz = (problem.message for problem in problems)
    assert "{subidd}" in subidd and "did you mean {subid}?" in subidd
    assert "{payuot}" in payuot and "did you mean {payout}?" in payuot
    assert "{zzzzzz}" in zzzzzz and "did you mean" not in zzzzzz
    assert all("tags.extra or tags.aliases" in message and "{lead_id}" in message
               for message in (subidd, payuot, zzzzzz)), "the fix and the macros leadkit fills"
    assert [problem.value for problem in problems] == ["subidd", "payuot", "zzzzzz"]


def test_an_unknown_macro_is_named_once_however_often_it_is_used(tmp_path: Path) -> None:
    problems = refused(tmp_path, f'[[postback]]\nurl = "{TRACKER}/{{nope}}?a={{nope}}&b={{nope}}"\n')
    assert ids(problems) == [("postback[0].url", "leadkit.E136")]


def test_a_status_map_without_a_status_macro_is_refused(tmp_path: Path) -> None:
    problems = refused(tmp_path, f'[[postback]]\nurl = "{TRACKER}?subid={{subid}}&stage={{stage}}"\n'
                                 'status = { approve = "sale" }\n')
    assert ids(problems) == [("postback[0].url", "leadkit.E135")]
    assert "{status}" in problems[0].message and "remove the map" in problems[0].message


def test_a_status_map_with_a_status_macro_is_taken(tmp_path: Path) -> None:
    config = load(tmp_path, f'[[postback]]\nurl = "{TRACKER}?st={{status}}"\nstatus = {{ approve = "sale" }}\n')
    assert config.postbacks[0].status == {"approve": "sale"}


@pytest.mark.parametrize(("status", "fragment"), [
    pytest.param('{ approved = "sale" }', "did you mean 'approve'", id="unknown-event"),
    pytest.param('{ approve = "" }', "tracker's status", id="empty-status"),
    pytest.param('"sale"', "table of event = status", id="not-a-table"),
])
def test_a_bad_status_map_is_refused(tmp_path: Path, status: str, fragment: str) -> None:
    problems = refused(tmp_path, f'[[postback]]\nurl = "{TRACKER}?st={{status}}"\nstatus = {status}\n')
    assert [(problem.key or "").split("[", 1)[0] for problem in problems] == ["postback"]
    assert problems[0].id == "leadkit.E133" and fragment in problems[0].message


@pytest.mark.parametrize(("events", "fragment"), [
    pytest.param("[]", "non-empty", id="none"),
    pytest.param('["sale"]', "lead, hold, approve, cancel, trash", id="unknown"),
    pytest.param('"approve"', "list", id="not-a-list"),
])
def test_bad_events_are_refused(tmp_path: Path, events: str, fragment: str) -> None:
    problems = refused(tmp_path, f'[[postback]]\nurl = "{TRACKER}?s={{subid}}"\nevents = {events}\n')
    assert ids(problems) == [("postback[0].events", "leadkit.E132")]
    assert fragment in problems[0].message


def test_clickid_is_taken_with_tags_aliases_naming_it(tmp_path: Path) -> None:
    url = "https://binom.example/click.php?cnv_id={clickid}&payout={payout}&cnv_status={status}"
    config = load(tmp_path, f'[tags]\naliases = {{ clickid = "subid" }}\n\n[[postback]]\nurl = "{url}"\n'
                            'status = { approve = "approve" }\n')
    assert config.postbacks[0].url == url and config.tags.aliases == {"clickid": "subid"}


def test_clickid_named_by_an_alias_given_in_python() -> None:
    url = f"{TRACKER}?cid={{clickid}}&s={{sub1}}"
    config = config_from_mapping(mapping(postback=[{"url": url}], tags={"aliases": {"clickid": "subid"}}),
                                 environ={})
    assert config.postbacks[0].url == url


def test_an_alias_of_an_unknown_tag_is_refused_before_its_macro_is_taken() -> None:
    problems = mapping_refused(mapping(postback=[{"url": f"{TRACKER}?cid={{clickid}}"}],
                                       tags={"aliases": {"clickid": "nosuch"}}))
    assert ids(problems) == [("tags.aliases.clickid", "leadkit.E094")]


def test_an_extra_tag_is_a_macro_in_the_moe_dialect(tmp_path: Path) -> None:
    body = f'[tags]\nextra = ["campaign_id"]\n\n[[postback]]\nurl = "{TRACKER}?c={{campaign_id}}"\n'
    assert load(tmp_path, body, dialect="moe").postbacks[0].url == f"{TRACKER}?c={{campaign_id}}"


# -- [capi.facebook], [capi.tiktok] ------------------------------------------------------------------


def test_capi_facebook_as_a_nested_toml_table_with_the_token_from_the_environment(tmp_path: Path) -> None:
    config = load(tmp_path, f"""
[capi.facebook]
pixel = {PIXEL}
test_event_code = "TEST12345"
base_url = "https://graph.example"
""", environ={"LEADKIT_FACEBOOK_TOKEN": TOKEN})
    facebook = config.facebook
    assert (facebook.pixel, facebook.token, facebook.test_event_code, facebook.base_url) == (
        PIXEL, TOKEN, "TEST12345", "https://graph.example")
    assert facebook.enabled and not config.tiktok.enabled
    assert TOKEN not in repr(config), "the token stays out of the configuration's repr"


def test_capi_as_one_toml_table_of_tables(tmp_path: Path) -> None:
    config = load(tmp_path, f'capi = {{ facebook = {{ pixel = "{PIXEL}" }}, tiktok = {{ pixel = "{TT_PIXEL}" }} }}\n',
                  environ={"LEADKIT_FACEBOOK_TOKEN": TOKEN, "LEADKIT_TIKTOK_TOKEN": TIKTOK_TOKEN})
    assert (config.facebook.pixel, config.facebook.token) == (PIXEL, TOKEN)
    assert (config.tiktok.pixel, config.tiktok.token) == (TT_PIXEL, TIKTOK_TOKEN)


@pytest.mark.parametrize("given", [
    pytest.param({"capi": {"facebook": {"pixel": PIXEL, "token": TOKEN}}}, id="capi-mapping"),
    pytest.param({"capi.facebook": {"pixel": PIXEL, "token": TOKEN}}, id="dotted-section"),
])
def test_capi_facebook_in_python(given: dict[str, Any]) -> None:
    config = config_from_mapping(mapping(**given), environ={})
    assert (config.facebook.pixel, config.facebook.token, config.facebook.enabled) == (PIXEL, TOKEN, True)


def test_capi_given_as_keyword_sections_over_the_file(tmp_path: Path) -> None:
    config = load(tmp_path, f'[capi.facebook]\npixel = "{PIXEL}"\ntest_event_code = "FILE1"\n',
                  environ={"LEADKIT_FACEBOOK_TOKEN": TOKEN}, capi={"facebook": {"test_event_code": "ARG1"}})
    assert (config.facebook.pixel, config.facebook.test_event_code) == (PIXEL, "ARG1"), "key by key"


def test_the_environment_s_token_wins_over_the_file_s(tmp_path: Path) -> None:
    config = load(tmp_path, f'[capi.facebook]\npixel = "{PIXEL}"\ntoken = "file-token-0123"\n',
                  environ={"LEADKIT_FACEBOOK_TOKEN": TOKEN})
    assert config.facebook.token == TOKEN
    assert load(tmp_path, f'[capi.facebook]\npixel = "{PIXEL}"\ntoken = "file-token-0123"\n').facebook.token == \
        "file-token-0123"


def test_capi_tiktok_with_its_token_from_the_environment(tmp_path: Path) -> None:
    config = load(tmp_path, f'[capi.tiktok]\npixel = "{TT_PIXEL}"\n', environ={"LEADKIT_TIKTOK_TOKEN": TIKTOK_TOKEN})
    assert (config.tiktok.pixel, config.tiktok.token, config.tiktok.enabled) == (TT_PIXEL, TIKTOK_TOKEN, True)


def test_a_facebook_pixel_without_a_token_is_refused_naming_the_variable(tmp_path: Path) -> None:
    [problem] = refused(tmp_path, f'[capi.facebook]\npixel = "{PIXEL}"\n',
                        environ={"LEADKIT_FACEBOOK_TOKE": TOKEN})  # a misspelt variable gives no token
    assert (problem.key, problem.id) == ("capi.facebook.pixel", "leadkit.E159")
    assert "LEADKIT_FACEBOOK_TOKEN" in problem.message and "capi.facebook.token" in problem.message
    assert TOKEN not in problem.message


@pytest.mark.parametrize("environ", [{"LEADKIT_FACEBOOK_TOKEN": TOKEN}, {}], ids=["environment", "file"])
def test_a_facebook_token_without_a_pixel_is_refused_without_the_token(tmp_path: Path,
                                                                       environ: dict[str, str]) -> None:
    body = "" if environ else f'[capi.facebook]\ntoken = "{TOKEN}"\n'
    with pytest.raises(ConfigError) as info:
        load(tmp_path, body, environ=environ)
    [problem] = info.value.problems
    assert (problem.key, problem.id) == ("capi.facebook.pixel", "leadkit.E159")
    assert "LEADKIT_FACEBOOK_TOKEN" in problem.message
    assert TOKEN not in str(info.value) and problem.value is None


def test_a_tiktok_pixel_without_a_token_is_refused_naming_the_variable(tmp_path: Path) -> None:
    [problem] = refused(tmp_path, f'[capi.tiktok]\npixel = "{TT_PIXEL}"\n')
    assert (problem.key, problem.id) == ("capi.tiktok.pixel", "leadkit.E169")
    assert "LEADKIT_TIKTOK_TOKEN" in problem.message and "LEADKIT_FACEBOOK_TOKEN" not in problem.message


def test_an_empty_token_in_the_environment_is_no_token(tmp_path: Path) -> None:
    [problem] = refused(tmp_path, f'[capi.facebook]\npixel = "{PIXEL}"\n', environ={"LEADKIT_FACEBOOK_TOKEN": ""})
    assert problem.id == "leadkit.E159"


@pytest.mark.parametrize(("body", "key", "id"), [
    pytest.param('[capi.facebook]\npixel = "12345"\n', "capi.facebook.pixel", "leadkit.E150", id="fb-pixel-short"),
    pytest.param('[capi.facebook]\npixel = true\n', "capi.facebook.pixel", "leadkit.E150", id="fb-pixel-bool"),
    pytest.param(f'[capi.facebook]\npixel = "{PIXEL}"\nversion = "21"\n', "capi.facebook.version", "leadkit.E153",
                 id="fb-version"),
    pytest.param(f'[capi.facebook]\npixel = "{PIXEL}"\nlead_event = "a lead"\n', "capi.facebook.lead_event",
                 "leadkit.E154", id="fb-event"),
    pytest.param('[capi.tiktok]\npixel = "c4abcdefghijklmnopqr"\n', "capi.tiktok.pixel", "leadkit.E160",
                 id="tt-pixel-lower-case"),
    pytest.param('[capi.google]\npixel = "1"\n', "[capi.google]", "leadkit.E007", id="unknown-platform"),
])
def test_bad_capi_settings_are_refused_naming_the_key(tmp_path: Path, body: str, key: str, id: str) -> None:
    problems = refused(tmp_path, body, environ={"LEADKIT_FACEBOOK_TOKEN": TOKEN, "LEADKIT_TIKTOK_TOKEN": TIKTOK_TOKEN})
    assert (key, id) in ids(problems)
    assert all(TOKEN not in problem.message and TIKTOK_TOKEN not in problem.message for problem in problems)


# -- a ConfigError never shows a token ----------------------------------------------------------------


@pytest.mark.parametrize(("body", "environ"), [
    pytest.param(f'[capi.facebook]\npixel = "{PIXEL}"\ntoken = "{TOKEN} x"\n', {}, id="token-with-a-space"),
    pytest.param(f'[capi.facebook]\npixel = "{PIXEL}"\n', {"LEADKIT_FACEBOOK_TOKEN": f"{TOKEN}\n{TOKEN}"},
                 id="environment-token-with-a-newline"),
    pytest.param(f'[capi.facebook]\npixel = "{PIXEL}"\ntokn = "{TOKEN}"\n', {}, id="misspelt-key"),
    pytest.param(f'[capi.facebook]\ntoken = "{TOKEN}"\n', {}, id="token-without-pixel"),
    pytest.param(f'[capi]\ntoken = "{TOKEN}"\n', {}, id="token-in-capi"),
    pytest.param(f'capi = {{ facebook = "{TOKEN}" }}\n', {}, id="platform-given-as-the-token"),
    pytest.param(f'capi = "{TOKEN}"\n', {}, id="capi-given-as-the-token"),
    pytest.param(f'[capi.facebok]\ntoken = "{TOKEN}"\n', {}, id="misspelt-section"),
    pytest.param(f'[capi.tiktok]\ntoken = "{TOKEN}"\npixel = "nope"\n', {}, id="tiktok-bad-pixel"),
    pytest.param(f'[[postback]]\nurl = "{TRACKER}?t={TOKEN}&s={{nope}}"\n', {}, id="postback-url-with-a-key"),
    pytest.param(f'[[postback]]\nurl = "https://{TOKEN}:x@tracker.example/"\n', {}, id="postback-url-with-a-user"),
    pytest.param('[sync]\ninterval = 0\n\n[capi.facebook]\npixel = "12345"\n', {"LEADKIT_FACEBOOK_TOKEN": TOKEN},
                 id="token-in-the-environment-and-other-problems"),
])
def test_a_config_error_never_shows_a_token(tmp_path: Path, body: str, environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, body, environ=environ)
    text = str(info.value) + repr(info.value.problems)
    assert TOKEN not in text
    assert all(TOKEN not in repr(problem.value) for problem in info.value.problems)


def test_a_token_pasted_as_the_pixel_is_not_repeated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, f'[capi.facebook]\npixel = "{TOKEN}"\n', environ={"LEADKIT_FACEBOOK_TOKEN": TOKEN})
    assert ids(list(info.value.problems)) == [("capi.facebook.pixel", "leadkit.E150")]
    assert TOKEN not in str(info.value)


# -- [pixels] -------------------------------------------------------------------------------------


def test_pixel_ids_are_read_as_text_without_repeats(tmp_path: Path) -> None:
    config = load(tmp_path, f"""
[pixels]
facebook = [{PIXEL}, "1234567890123456", "{PIXEL}"]
tiktok = ["{TT_PIXEL}"]
google = ["AW-123456789/AbC-dEf_123", "G-ABC123XYZ9"]
yandex = [12345678]
params = {{ facebook = "fbpix", tiktok = "ttpix" }}
""")
    pixels = config.pixels
    assert pixels.facebook == (PIXEL, "1234567890123456")
    assert (pixels.tiktok, pixels.google, pixels.yandex) == (
        (TT_PIXEL,), ("AW-123456789/AbC-dEf_123", "G-ABC123XYZ9"), ("12345678",))
    assert pixels.params == {"facebook": "fbpix", "tiktok": "ttpix"}


@pytest.mark.parametrize(("key", "value", "id", "bad"), [
    pytest.param("facebook", '["12345"]', "leadkit.E140", "'12345'", id="facebook-short"),
    pytest.param("facebook", f'["{PIXEL}", "12345678901234x"]', "leadkit.E140", "'12345678901234x'",
                 id="facebook-second-of-two"),
    pytest.param("facebook", "[1.5]", "leadkit.E140", "1.5", id="facebook-float"),
    pytest.param("facebook", "[true]", "leadkit.E140", "True", id="facebook-bool"),
    pytest.param("facebook", f'"{PIXEL}"', "leadkit.E140", None, id="facebook-not-a-list"),
    pytest.param("tiktok", '["c4abcdefghijklmnopqr"]', "leadkit.E141", "'c4abcdefghijklmnopqr'", id="tiktok-lower"),
    pytest.param("google", '["AW-123/label"]', "leadkit.E142", "'AW-123/label'", id="google-short-ads"),
    pytest.param("google", '["UA-12345-1"]', "leadkit.E142", "'UA-12345-1'", id="google-universal"),
    pytest.param("yandex", "[1234]", "leadkit.E143", "1234", id="yandex-short"),
    pytest.param("params", '{ facebok = "fbpix" }', "leadkit.E145", "'facebok'", id="params-unknown-platform"),
    pytest.param("params", '{ facebook = "fb pix" }', "leadkit.E145", "'fb pix'", id="params-bad-name"),
])
def test_bad_pixel_ids_are_refused_naming_the_key_and_the_value(tmp_path: Path, key: str, value: str, id: str,
                                                                 bad: str | None) -> None:
    problems = refused(tmp_path, f"[pixels]\n{key} = {value}\n")
    [problem] = problems  # named by its key (a table's, with the entry: pixels.params.facebok)
    assert problem.key is not None and (problem.key == f"pixels.{key}" or problem.key.startswith(f"pixels.{key}."))
    assert problems[0].id == id and problems[0].message.startswith(f"pixels.{key}")
    if bad is not None:
        assert bad in problems[0].message


def test_an_unknown_pixels_key_is_refused(tmp_path: Path) -> None:
    assert ids(refused(tmp_path, f'[pixels]\nfacebok = ["{PIXEL}"]\n')) == [("pixels.facebok", "leadkit.E009")]


# -- [sync] ---------------------------------------------------------------------------------------


def test_sync_settings_are_read(tmp_path: Path) -> None:
    config = load(tmp_path, '[sync]\ninterval = 1\nmax_age = 365\nenabled = false\ncurrency = "eur"\n')
    assert (config.sync.interval, config.sync.max_age, config.sync.enabled, config.sync.currency) == (
        1.0, 365.0, False, "EUR")
    assert load(tmp_path, "[sync]\ninterval = 86400\nmax_age = 1\n").sync.interval == 86400.0


@pytest.mark.parametrize(("line", "key", "id"), [
    pytest.param("interval = 0", "sync.interval", "leadkit.E120", id="interval-zero"),
    pytest.param("interval = 0.5", "sync.interval", "leadkit.E120", id="interval-under-a-second"),
    pytest.param("interval = 86401", "sync.interval", "leadkit.E120", id="interval-over-a-day"),
    pytest.param("interval = -60", "sync.interval", "leadkit.E120", id="interval-negative"),
    pytest.param("interval = nan", "sync.interval", "leadkit.E120", id="interval-nan"),
    pytest.param("interval = inf", "sync.interval", "leadkit.E120", id="interval-inf"),
    pytest.param('interval = "60"', "sync.interval", "leadkit.E120", id="interval-text"),
    pytest.param("interval = true", "sync.interval", "leadkit.E120", id="interval-bool"),
    pytest.param("max_age = 0", "sync.max_age", "leadkit.E121", id="max-age-zero"),
    pytest.param("max_age = 0.9", "sync.max_age", "leadkit.E121", id="max-age-under-a-day"),
    pytest.param("max_age = 366", "sync.max_age", "leadkit.E121", id="max-age-over-a-year"),
])
def test_sync_bounds(tmp_path: Path, line: str, key: str, id: str) -> None:
    [problem] = refused(tmp_path, f"[sync]\n{line}\n")
    assert (problem.key, problem.id) == (key, id)
    assert problem.message.startswith(key) and "(got " in problem.message
    assert ("seconds from 1 to 86400" if id == "leadkit.E120" else "days from 1 to 365") in problem.message


def test_both_sync_bounds_at_once(tmp_path: Path) -> None:
    assert ids(refused(tmp_path, "[sync]\ninterval = 0\nmax_age = 0\n")) == [
        ("sync.interval", "leadkit.E120"), ("sync.max_age", "leadkit.E121")]


# -- offer.source = "{sub1}" ----------------------------------------------------------------------


@pytest.mark.parametrize("source", ["{sub1}", "{subid}", "{utm_source}", "77", "{ sub2 }"])
def test_a_source_naming_a_tag_or_fixed_is_taken(tmp_path: Path, source: str) -> None:
    assert load(tmp_path, source=source).offer.source == source


def test_a_source_naming_an_unknown_tag_is_refused(tmp_path: Path) -> None:
    [problem] = refused(tmp_path, source="{nosuch}")
    assert (problem.key, problem.id, problem.value) == ("offer.source", "leadkit.E124", "{nosuch}")
    assert "{nosuch}" in problem.message and "{sub1}" in problem.message


def test_a_source_naming_an_extra_tag_is_taken_in_the_moe_dialect(tmp_path: Path) -> None:
    config = load(tmp_path, '[tags]\nextra = ["campaign_id"]\n', dialect="moe", source="{campaign_id}")
    assert config.offer.source == "{campaign_id}"


def test_a_source_naming_an_alias_is_refused(tmp_path: Path) -> None:
    """The tags are kept by leadkit's names (an alias is a query parameter's): ``{clickid}`` would be empty."""
    problems = refused(tmp_path, '[tags]\naliases = { clickid = "subid" }\n', source="{clickid}")
    assert ids(problems) == [("offer.source", "leadkit.E124")]


def test_a_source_only_goes_with_role_ext(tmp_path: Path) -> None:
    problems = mapping_refused(mapping("wm", offer={"source": "{sub1}"}))
    assert ids(problems) == [("offer.source", "leadkit.E091")]


def test_a_landings_source_is_checked_too(tmp_path: Path) -> None:
    body = '[[landing]]\nname = "sk"\npath = "/sk/"\nsource = "{nosuch}"\n'
    [problem] = refused(tmp_path, body, source="{sub1}")
    assert (problem.key, problem.id) == ("landing[sk].source", "leadkit.E124")
    assert "{nosuch}" in problem.message
    config = load(tmp_path, body.replace("{nosuch}", "{sub2}"), source="{sub1}")
    assert (config.offer.source, config.landing("sk").offer.source) == ("{sub1}", "{sub2}")


def test_a_landing_inherits_the_offers_source(tmp_path: Path) -> None:
    config = load(tmp_path, '[[landing]]\nname = "sk"\npath = "/sk/"\noffer = 402\n', source="{sub1}")
    assert config.landing("sk").offer.source == "{sub1}"


def lead(tags: dict[str, str]) -> Lead:
    order = Order(name="Aigerim", phone=parse_phone("87001234567", ["KZ"]))
    return Lead(order=order, visitor=Visitor("203.0.113.7", "test-agent", False), tags=tags)


SOURCE_FIELD = {"dalead": "exts", "moe": "wm"}


@pytest.mark.parametrize("dialect", ["dalead", "moe"])
@pytest.mark.parametrize(("tags", "sent"), [
    pytest.param({"sub1": "aff-7", "utm_source": "fb"}, "aff-7", id="the-visits-sub1"),
    pytest.param({"utm_source": "fb"}, None, id="no-sub1"),
    pytest.param({}, None, id="no-tags"),
    pytest.param({"sub1": ""}, None, id="empty-sub1"),
    pytest.param({"sub2": "other"}, None, id="another-sub"),
])
def test_the_source_is_the_visits_sub1(tmp_path: Path, dialect: str, tags: dict[str, str], sent: str | None) -> None:
    config = load(tmp_path, role="ext", dialect=dialect, source="{sub1}")
    payload = build_payload(lead(tags), config)
    field = SOURCE_FIELD[dialect]
    if sent is None:
        assert field not in payload, payload
    else:
        assert payload[field] == sent
    assert "{sub1}" not in repr(payload), "the macro itself is never sent"
    assert payload["extu" if dialect == "dalead" else "id"], "the agency's order id still goes"


@pytest.mark.parametrize("dialect", ["dalead", "moe"])
def test_a_fixed_source_is_sent_whatever_the_visit(tmp_path: Path, dialect: str) -> None:
    config = load(tmp_path, role="ext", dialect=dialect, source="77")
    assert build_payload(lead({"sub1": "aff-7"}), config)[SOURCE_FIELD[dialect]] == "77"
    assert build_payload(lead({}), config)[SOURCE_FIELD[dialect]] == "77"


def test_a_landings_source_names_its_own_tag(tmp_path: Path) -> None:
    config = load(tmp_path, '[[landing]]\nname = "sk"\npath = "/sk/"\nsource = "{sub2}"\n', source="{sub1}")
    visit = lead({"sub1": "aff-7", "sub2": "aff-9"})
    assert build_payload(visit, config)["exts"] == "aff-7"
    assert build_payload(visit, config.for_landing(config.landing("sk")))["exts"] == "aff-9"


def test_a_source_given_in_python_is_sent_as_the_tag(tmp_path: Path) -> None:
    config = config_from_mapping(mapping("ext", "moe", offer={"source": "{utm_source}"}), environ={})
    assert build_payload(lead({"utm_source": "fb"}), config)["wm"] == "fb"
