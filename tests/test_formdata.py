"""Reading a posted order strictly: what a browser sends is read, anything odd is a clear 4xx."""

from __future__ import annotations

import io
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder

from leadkit.errors import FormError
from leadkit.formdata import read_form

URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"


def read(data: Any = None, content_type: str | None = None) -> dict[str, str]:
    request = EnvironBuilder(method="POST", data=data, content_type=content_type).get_request()
    return read_form(request)


def multipart(*parts: tuple[str, bytes]) -> bytes:
    """A multipart body by hand, so that the bytes are exactly the ones under test."""
    chunks = [b"--B\r\nContent-Disposition: form-data; name=\"" + name.encode() + b"\"\r\n\r\n" + value + b"\r\n"
              for name, value in parts]
    return b"".join(chunks) + b"--B--\r\n"


# -- what browsers send ---------------------------------------------------------

@pytest.mark.parametrize("data, content_type, expected", [
    pytest.param({"name": "Айгерим", "phone": "8 (700) 123-45-67"}, None,
                 {"name": "Айгерим", "phone": "8 (700) 123-45-67"}, id="urlencoded-cyrillic"),
    pytest.param("name=%D0%90%D0%B9%D0%B3%D0%B5%D1%80%D0%B8%D0%BC&phone=%2B77001234567", URLENCODED,
                 {"name": "Айгерим", "phone": "+77001234567"}, id="urlencoded-raw-escapes"),
    pytest.param(b"name=A+B&comment=", f"{URLENCODED}; charset=UTF-8", {"name": "A B", "comment": ""},
                 id="urlencoded-with-charset-and-blank"),
    pytest.param(b"name=a;phone=b", URLENCODED, {"name": "a;phone=b"}, id="semicolon-is-no-separator"),
    pytest.param({"name": "Айгерим", "phone": "+77001234567"}, MULTIPART,
                 {"name": "Айгерим", "phone": "+77001234567"}, id="multipart"),
    pytest.param(multipart(("name", "Айгерим".encode()), ("comment", b"")), f"{MULTIPART}; boundary=B",
                 {"name": "Айгерим", "comment": ""}, id="multipart-by-hand"),
    pytest.param(b"comment=line+one%0D%0Aline+two%09tabbed", URLENCODED,
                 {"comment": "line one\r\nline two\ttabbed"}, id="tab-and-newlines-are-fine"),
    pytest.param(multipart(("comment", b"one\ntwo\tthree")), f"{MULTIPART}; boundary=B",
                 {"comment": "one\ntwo\tthree"}, id="multipart-tab-and-newline"),
    pytest.param(b"", URLENCODED, {}, id="empty-body"),
    pytest.param("&".join(f"f{i}=1" for i in range(200)), URLENCODED, {f"f{i}": "1" for i in range(200)},
                 id="200-fields"),
])
def test_forms_are_read(data: Any, content_type: str | None, expected: dict[str, str]) -> None:
    assert read(data, content_type) == expected


# -- what is refused -------------------------------------------------------------

@pytest.mark.parametrize("data, content_type, status, message", [
    pytest.param(b"name=a&name=b", URLENCODED, 400, "The field 'name' was sent more than once.",
                 id="repeated-field"),
    pytest.param(b"phone=1&name=&phone=2", URLENCODED, 400, "The field 'phone' was sent more than once.",
                 id="repeated-field-blank-between"),
    pytest.param(multipart(("name", b"a"), ("name", b"b")), f"{MULTIPART}; boundary=B", 400,
                 "The field 'name' was sent more than once.", id="repeated-field-multipart"),
    pytest.param(b"name=%FF%FE", URLENCODED, 400, "The form was not sent as UTF-8 text.", id="escaped-non-utf8"),
    pytest.param("name=Айгерим".encode("cp1251"), URLENCODED, 400, "The form was not sent as UTF-8 text.",
                 id="raw-cp1251"),
    pytest.param(b"name=\xff\xfe", URLENCODED, 400, "The form was not sent as UTF-8 text.", id="raw-non-utf8"),
    pytest.param(b"name=%C3", URLENCODED, 400, "The form was not sent as UTF-8 text.", id="truncated-utf8"),
    pytest.param(b"name=%ED%A0%80", URLENCODED, 400, "The form was not sent as UTF-8 text.", id="surrogate"),
    pytest.param(b"name=a%00b", URLENCODED, 400, "The field 'name' contains characters that cannot be typed.", id="nul"),
    pytest.param(b"comment=%1B%5B31m", URLENCODED, 400, "The field 'comment' contains characters that cannot be typed.",
                 id="escape"),
    pytest.param(b"name=a%7F", URLENCODED, 400, "The field 'name' contains characters that cannot be typed.", id="delete"),
    pytest.param(b"name=a%0Bb", URLENCODED, 400, "The field 'name' contains characters that cannot be typed.",
                 id="vertical-tab"),
    pytest.param(b"na%00me=a", URLENCODED, 400, "The field 'na?me' contains characters that cannot be typed.",
                 id="nul-in-name"),
    pytest.param(multipart(("name", b"a\x00b")), f"{MULTIPART}; boundary=B", 400,
                 "The field 'name' contains characters that cannot be typed.", id="nul-multipart"),
    pytest.param("&".join(f"f{i}=1" for i in range(201)), URLENCODED, 400, "The form has too many fields.",
                 id="201-fields"),
    pytest.param(multipart(("name", "Айгерим".encode("cp1251"))), f"{MULTIPART}; boundary=B", 400,
                 "The form was not sent as UTF-8 text.", id="multipart-cp1251"),
    pytest.param(b"--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B--\r\n", f"{MULTIPART}; boundary=B", 400,
                 "The form arrived damaged. Please send it again.", id="multipart-part-without-name"),
    pytest.param(multipart(("name", b"a")), MULTIPART, 400, "The form arrived damaged. Please send it again.",
                 id="multipart-without-boundary"),
    pytest.param(b"--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end", f"{MULTIPART}; boundary=B",
                 400, "The form arrived damaged. Please send it again.", id="multipart-truncated"),
    pytest.param(multipart(*((f"f{i}", b"1") for i in range(201))), f"{MULTIPART}; boundary=B", 400,
                 "The form arrived damaged. Please send it again.", id="multipart-201-fields"),
    pytest.param({"name": "a", "photo": (io.BytesIO(b"GIF89a"), "photo.gif")}, None, 400,
                 "The order form takes no file uploads.", id="file-upload"),
    pytest.param(b"name=a", "text/plain", 415,
                 "Please send the order from the order form (it arrived as text/plain).", id="text-plain"),
    pytest.param(b'{"name": "a"}', "application/json", 415,
                 "Please send the order from the order form (it arrived as application/json).", id="json"),
    pytest.param(b"name=a", None, 415,
                 "Please send the order from the order form (it arrived as none).", id="no-content-type"),
])
def test_odd_forms_are_refused(data: Any, content_type: str | None, status: int, message: str) -> None:
    with pytest.raises(FormError) as caught:
        read(data, content_type)
    assert caught.value.status == status
    assert caught.value.message == message == str(caught.value)


def test_long_names_are_cut_in_the_message() -> None:
    with pytest.raises(FormError) as caught:
        read(f"{'n' * 500}=a&{'n' * 500}=b".encode(), URLENCODED)
    assert caught.value.message == f"The field {'n' * 40!r} was sent more than once."


def test_a_long_content_type_is_cut_in_the_message() -> None:
    with pytest.raises(FormError) as caught:
        read(b"name=a", "application/" + "x" * 500)
    assert caught.value.status == 415 and len(caught.value.message) < 200


def test_multipart_non_utf8_is_refused() -> None:
    with pytest.raises(FormError) as caught:
        read(multipart(("name", b"\xff\xfe")), f"{MULTIPART}; boundary=B")
    assert caught.value.status == 400
