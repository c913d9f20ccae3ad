"""The order form (leadkit.form): only the fields it shows are read, and what they become on the way
to the network; the last tests post through the middleware to the sandbox network."""

from __future__ import annotations

from typing import Any

import pytest

from leadkit import LeadKit
from leadkit.form import form_fields, read_order, shown_fields
from leadkit.testing.sandbox import SandboxNetwork
from support import BrowserClient, make_config

ORDER = {"name": "Aigerim", "phone": "8 (700) 123-45-67"}
#: Every optional field, as a visitor could post them whatever the form shows.
EVERYTHING = {"email": "a@b.kz", "comment": "evening", "last": "N", "index": "999999", "addr": "Flat 1",
              "area": "North", "city": "Astana", "street": "Abay", "count": "99"}


def landing(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"landing"]


@pytest.mark.parametrize(("shown", "details"), [
    pytest.param([], {}, id="no-optional-fields-nothing-else-read"),
    pytest.param(["city"], {"city": "Astana"}, id="only-the-city"),
    pytest.param(["email", "count"], {"email": "a@b.kz", "count": "99"}, id="email-and-count"),
    pytest.param(list(EVERYTHING), EVERYTHING, id="every-field-shown"),
])
def test_only_the_fields_the_form_shows_are_read(shown: list[str], details: dict[str, str]) -> None:
    config = make_config(form={"fields": shown})
    order, errors, values = read_order({**ORDER, **EVERYTHING, "flow": "1", "offer": "9"}, config)
    assert errors == {} and order is not None
    assert dict(order.details) == details
    assert set(values) == {"name", "phone", *shown}, "the form is refilled with its own fields only"


def test_a_field_the_form_does_not_show_is_no_error_even_when_invalid() -> None:
    order, errors, _ = read_order({**ORDER, "email": "not an email", "count": "1000", "comment": "c" * 5000},
                                  make_config())
    assert errors == {} and order is not None and dict(order.details) == {}


def test_the_fields_shown_are_the_fields_read() -> None:
    config = make_config(form={"fields": ["comment", "email"]})
    assert shown_fields(config) == ("name", "phone", "comment", "email")
    assert [f.name for f in form_fields(config)] == list(shown_fields(config))


# -- through the middleware: what reaches the network ----------------------------------------

@pytest.mark.parametrize(("role", "dialect"), [
    pytest.param("wm", "dalead", id="wm-dalead"),
    pytest.param("comp", "moe", id="comp-moe"),
])
def test_a_visitor_cannot_add_or_override_fields(network: SandboxNetwork, role: str, dialect: str) -> None:
    network.reset(role=role, dialect=dialect)
    fixed = {"count": 2, "index": "050000", "addr": "Pickup point 4", "currency": "kzt"}
    config = make_config(role, dialect, api=network.url, offer={"fields": fixed},
                         form={"fields": ["count", "city"]})
    with LeadKit(landing, config) as kit:
        response = BrowserClient(kit).post("/leadkit/order", data={
            **ORDER, "count": "7", "city": "Astana", "index": "999999", "addr": "Evil st.", "area": "North",
            "street": "Abay", "email": "x@y.kz", "currency": "usd", "offer": "1", "flow": "1"})
    assert response.status_code == 303, response.get_data(as_text=True)
    (lead,) = network.accepted()
    sent = lead.fields
    assert {k: sent.get(k) for k in ("count", "index", "addr", "currency", "offer")} == {
        "count": "2", "index": "050000", "addr": "Pickup point 4", "currency": "kzt", "offer": "217"}, \
        "the offer's fixed values, not the visitor's"
    assert sent.get("city") == "Astana", "a field the form shows is sent"
    assert not {"area", "street", "email"} & set(sent), "fields the form does not show are ignored"


@pytest.mark.parametrize("phone", [
    pytest.param("\u0668 (\u0667\u0660\u0660) \u0661\u0662\u0663-\u0664\u0665-\u0666\u0667", id="arabic-indic"),
    pytest.param("\u06f8\u06f7\u06f0\u06f0\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6\u06f7", id="persian"),
    pytest.param("\uff0b\uff17 \uff17\uff10\uff10 \uff11\uff12\uff13 \uff14\uff15\uff16\uff17", id="fullwidth"),
])
def test_a_phone_typed_on_another_keyboard_reaches_the_network_as_digits(network: SandboxNetwork,
                                                                         phone: str) -> None:
    with LeadKit(landing, make_config(api=network.url)) as kit:
        response = BrowserClient(kit).post("/leadkit/order", data={"name": "Aigerim", "phone": phone})
    assert response.status_code == 303, response.get_data(as_text=True)
    (lead,) = network.accepted()
    assert (lead.fields["phone"], lead.fields["phonecc"]) == ("77001234567", "+7")
