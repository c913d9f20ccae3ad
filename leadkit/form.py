"""The order form: which fields it has and how what a customer typed becomes an order.

``read_order(form, config)`` returns either an :class:`Order` or the errors to
show beside each field, with the customer's values kept. Only the fields the
form shows are read (``name``, ``phone`` and ``form.fields``): anything else
posted is ignored, so a visitor cannot add a ``count`` the form does not ask
for. Pure: no request, no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from .config import Config
from .phone import Phone, PhoneError, dialling_code, local_example, parse_phone
from .texts import Texts, english

__all__ = ["FieldSpec", "FIELDS", "Order", "FormField", "read_order", "form_fields", "shown_fields", "chosen_regions", "MAX_COUNT"]

MAX_COUNT = 99
_EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"'.]{2,}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class FieldSpec:
    """How one order field looks in the form and how long it may be."""

    label: str  # the key of its label in leadkit.texts
    type: str = "text"
    maxlength: int = 100
    autocomplete: str = ""
    inputmode: str | None = None


FIELDS: dict[str, FieldSpec] = {
    "name": FieldSpec("label_name", maxlength=100, autocomplete="name"),
    "phone": FieldSpec("label_phone", type="tel", maxlength=40, autocomplete="tel", inputmode="tel"),
    "email": FieldSpec("label_email", type="email", maxlength=254, autocomplete="email", inputmode="email"),
    "last": FieldSpec("label_last", maxlength=100, autocomplete="family-name"),
    "index": FieldSpec("label_index", maxlength=20, autocomplete="postal-code", inputmode="numeric"),
    "area": FieldSpec("label_area", maxlength=100, autocomplete="address-level1"),
    "city": FieldSpec("label_city", maxlength=100, autocomplete="address-level2"),
    "street": FieldSpec("label_street", maxlength=200, autocomplete="address-line1"),
    "addr": FieldSpec("label_addr", maxlength=200, autocomplete="address-line2"),
    "count": FieldSpec("label_count", type="number", maxlength=2, inputmode="numeric"),
    "comment": FieldSpec("label_comment", type="textarea", maxlength=1000),
}


@dataclass(frozen=True)
class Order:
    """What the customer asked for: a name, a valid phone, and the optional details given."""

    name: str
    phone: Phone
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FormField:
    """One input as the form template shows it."""

    name: str
    label: str
    type: str
    required: bool
    value: str
    error: str | None
    autocomplete: str
    inputmode: str | None
    placeholder: str
    maxlength: int
    #: The phone's dialling code shown before the input ("+48"), and the hint under it.
    prefix: str = ""
    hint: str = ""


def clean_text(value: str) -> str:
    """Drop control characters (keeping line breaks) and surrounding space."""
    return _CONTROL.sub("", value).strip()


def read_order(form: Mapping[str, str], config: Config, extra: Iterable[str] = (),
               texts: Texts = english) -> tuple[Order | None, dict[str, str], dict[str, str]]:
    """Validate the posted form: ``(order, errors, values)``; ``order`` is None when there are errors.

    ``values`` holds the cleaned text of every field the form shows (``extra``: optional fields a
    landing kit's own form has besides), to refill it; other fields posted are ignored. A posted
    ``country`` among the offer's countries (the form's or a kit's country choice) is where the phone
    is read first. Errors are in the customer's language (``texts``).
    """
    shown = dict.fromkeys((*shown_fields(config), *(n for n in extra if n in FIELDS and n != "count")))
    values = {n: clean_text(str(form.get(n) or "")) for n in shown}
    errors: dict[str, str] = {}
    for name, text in values.items():
        if len(text) > FIELDS[name].maxlength and name != "count":
            errors[name] = texts.plural("too_long", FIELDS[name].maxlength, limit=FIELDS[name].maxlength)
    if not values.get("name"):
        errors["name"] = texts("required_name")
    phone = None
    regions = chosen_regions(form.get("country"), config.phone_regions)
    if "phone" not in errors:
        try:
            phone = parse_phone(values.get("phone"), regions)
        except PhoneError as exc:
            errors["phone"] = texts.phone_error(exc.reason, regions, local_example(regions[0]))
    if values.get("email") and "email" not in errors and not _EMAIL.match(values["email"]):
        errors["email"] = texts("invalid_email")
    if values.get("count") and not _is_count(values["count"]):
        errors["count"] = texts("invalid_count", maximum=MAX_COUNT)
    details = {n: v for n, v in values.items() if n not in ("name", "phone") and v}
    if len(regions) > 1:  # the customer's choice, kept to show the form again with it
        values["country"] = regions[0].lower()
    if errors or phone is None:
        return None, errors, values
    return Order(name=values["name"], phone=phone, details=details), {}, values


def chosen_regions(country: str | None, regions: Sequence[str]) -> tuple[str, ...]:
    """The offer's phone regions with the customer's chosen country first (when it is one of them)."""
    chosen = (country or "").strip().upper()
    return (chosen, *(r for r in regions if r != chosen)) if chosen in regions else tuple(regions)


def _is_count(text: str) -> bool:
    return text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_COUNT


def form_fields(config: Config, values: Mapping[str, str] | None = None, errors: Mapping[str, str] | None = None,
                texts: Texts = english, country: str | None = None) -> list[FormField]:
    """The inputs of the configured form, filled with ``values`` and ``errors``, labelled in the
    customer's language; the phone's placeholder, dialling code and hint are those of ``country``
    (the customer's choice), else of the offer's first country."""
    values = values or {}
    errors = errors or {}
    region = chosen_regions(country or values.get("country"), config.phone_regions)[0]
    example = local_example(region)
    return [
        FormField(
            name=name, label=texts(FIELDS[name].label), type=FIELDS[name].type, required=name in ("name", "phone"),
            value=values.get(name, ""), error=errors.get(name), autocomplete=FIELDS[name].autocomplete,
            inputmode=FIELDS[name].inputmode, placeholder=example if name == "phone" else "",
            maxlength=FIELDS[name].maxlength, prefix=dialling_code(region) if name == "phone" else "",
            hint=texts("phone_hint", example=example) if name == "phone" and example else "",
        )
        for name in shown_fields(config)
    ]


def shown_fields(config: Config) -> tuple[str, ...]:
    """The fields the form shows, in order: ``name``, ``phone``, then ``form.fields``."""
    return ("name", "phone", *config.form.fields)
