"""The fields of a lead call, exactly as ``api/NOTES.md`` tables them, per role and dialect.

Pure: :func:`build_payload` turns a :class:`~leadkit.lead.Lead` and the
configuration into a dict; :func:`encode_form` flattens it into the PHP-style
bracket keys the engine reads (``params[sub1]=x``, ``items[0][id]=135``).
"""

from __future__ import annotations

from typing import Any, Mapping

from .config import Config, source_tag
from .geo import geo_price
from .lead import Lead

__all__ = ["build_payload", "encode_form", "MOE_UTM"]

MOE_UTM = {"utm_source": "us", "utm_medium": "um", "utm_campaign": "uc", "utm_content": "un", "utm_term": "ut"}
#: Order details both dialects take under the same name.
_SHARED_DETAILS = ("email", "index", "addr", "area", "city", "street", "count")


def build_payload(lead: Lead, config: Config) -> dict[str, Any]:
    """The body of the lead call for ``config.network.role`` in ``config.network.dialect``."""
    dialect = config.network.dialect
    order = lead.order
    payload: dict[str, Any] = {k: v for k, v in config.offer.fields.items()}
    # The country's own prices ([offer.geo.XX]) give this lead its currency and base, in place of
    # offer.fields' (a base in another country's currency would be wrong: none given, none sent).
    price = geo_price(config.offer, order.phone.region)
    if price is not None:
        payload.pop("base", None)
        payload["currency"] = price.currency
        if price.base is not None:
            payload["base"] = price.base
    payload.update({
        "offer": config.offer.offer,
        "ip": lead.visitor.ip,
        "phone": order.phone.digits,
        "name": order.name,
        # The phone's country is one of the offer's (phone.py checks it): with
        # offer.countries widened, it tells the network where this customer is.
        "country": order.phone.region.lower(),
    })
    if lead.visitor.user_agent:
        payload["ua"] = lead.visitor.user_agent
    # offer.fields are fixed by the operator: nothing the visitor posts or tags overrides them.
    fixed = config.offer.fields
    payload.update({k: order.details[k] for k in _SHARED_DETAILS if order.details.get(k) and k not in fixed})
    dialect_fields = _dialect_fields(lead, dialect)
    if "params" in dialect_fields and isinstance(payload.get("params"), Mapping):
        dialect_fields["params"] = {**dialect_fields["params"], **payload["params"]}
    payload.update(dialect_fields)
    payload.update(_role_fields(lead, config))
    return payload


def _dialect_fields(lead: Lead, dialect: str) -> dict[str, Any]:
    details = lead.order.details
    tags = lead.tags
    if dialect == "dalead":
        fields: dict[str, Any] = {"phonecc": lead.order.phone.phonecc, "mobile": "1" if lead.visitor.mobile else "0"}
        if details.get("last"):
            fields["last"] = details["last"]
        if details.get("comment"):
            fields["comment"] = details["comment"]
        fields.update({k: v for k, v in tags.items() if v})
        return fields
    fields = {}
    if details.get("last"):
        fields["name"] = f"{lead.order.name} {details['last']}"  # moe has no last-name field
    if details.get("comment"):
        fields["comm"] = details["comment"]
    fields.update({MOE_UTM[k]: v for k, v in tags.items() if k in MOE_UTM and v})
    params = {k: v for k, v in tags.items() if k not in MOE_UTM and v}
    if params:
        fields["params"] = params
    return fields


def _role_fields(lead: Lead, config: Config) -> dict[str, Any]:
    role, dialect, offer = config.network.role, config.network.dialect, config.offer
    if role == "wm":
        return {"flow": offer.flow}
    if role == "ext":
        id_field, source_field = ("extu", "exts") if dialect == "dalead" else ("id", "wm")
        fields = {id_field: lead.id}
        source = _source(offer.source, lead.tags)
        if source:
            fields[source_field] = source
        return fields
    return {}


def _source(source: str | None, tags: Mapping[str, str]) -> str | None:
    """The agency's source id: ``offer.source`` as it is, or the tag it names (``"{sub1}"``: the
    visit's ``sub1``, so that each sub-affiliate is credited; none when the visit has no such tag)."""
    tag = source_tag(source)
    return tags.get(tag) or None if tag is not None else source


def encode_form(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Flatten nested values into PHP bracket keys, in order: ``[("params[sub1]", "x"), ...]``."""
    pairs: list[tuple[str, str]] = []
    for key, value in payload.items():
        _flatten(str(key), value, pairs)
    return pairs


def _flatten(key: str, value: Any, pairs: list[tuple[str, str]]) -> None:
    if isinstance(value, Mapping):
        for sub, item in value.items():
            _flatten(f"{key}[{sub}]", item, pairs)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _flatten(f"{key}[{index}]", item, pairs)
    elif value is not None:
        pairs.append((key, str(value)))
