"""The kit's field names and tracker macros: what a landing kit's form fields hold.

Kits name their fields in many languages and styles (``fio``, ``tel``,
``order[phone]``, ``e-mail``). :func:`canonical_field` says which order field
(one of :data:`LEAD_FIELDS`) a kit's field name holds, the operator's
``site.form_aliases`` first, then :data:`FIELD_NAMES`; :func:`map_fields` turns a
kit's posted fields into order fields. :func:`is_macro` tells a tracker macro
nobody filled in (``{clickid}``, ``{{sub1}}``, ``%sub1%``...) from a real value.
Pure: no I/O.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Mapping

__all__ = ["LEAD_FIELDS", "PHONE_NAMES", "FIELD_NAMES", "canonical_field", "map_fields", "is_macro"]

_NONE: Mapping[str, str] = MappingProxyType({})

# -- field names --------------------------------------------------------------

LEAD_FIELDS: tuple[str, ...] = (
    "name", "phone", "last", "email", "comment", "index", "addr", "area", "city", "street", "count", "country",
)

#: Names kits give the phone field, lower-case, ``_`` for ``-``.
PHONE_NAMES: frozenset[str] = frozenset({
    "phone", "tel", "telephone", "phone_number", "phonenumber", "phone_num", "phone_no", "phone1", "phone_1",
    "mobile", "mobile_phone", "mobilephone", "mobile_number", "cellphone", "cell_phone", "cell", "msisdn",
    "tel_number", "telnumber", "tel_no", "telephone_number", "contact_phone", "customer_phone", "client_phone",
    "user_phone", "your_phone", "telefon", "telefone", "telefono", "telefonnummer", "nomer", "nomer_telefona",
    "numer_telefonu", "nomor", "nomor_hp", "so_dien_thoai", "sdt",
})

_NAMES_BY_FIELD: dict[str, tuple[str, ...]] = {
    "name": ("name", "fio", "full_name", "fullname", "client_name", "customer_name", "your_name", "first_name",
             "firstname", "fname", "given_name", "imya", "imja", "imia", "nombre", "nome", "imie", "vorname", "prenom",
             "ism", "ho_ten"),
    "last": ("last", "last_name", "lastname", "surname", "lname", "family_name", "familyname", "familiya",
             "familija", "familia", "apellido", "apellidos", "cognome", "nazwisko", "nachname"),
    "phone": tuple(sorted(PHONE_NAMES)),
    "email": ("email", "e_mail", "mail", "email_address", "emailaddress", "your_email", "pochta"),
    "comment": ("comment", "comments", "message", "msg", "note", "notes", "commentary", "kommentariy",
                "kommentarij", "kommentarii", "komment", "kommentar", "comentario", "commento", "uwagi"),
    "index": ("index", "zip", "zipcode", "zip_code", "postcode", "post_code", "postal_code", "postalcode",
              "pincode", "pin_code", "indeks", "plz"),
    "addr": ("addr", "address", "adress", "address1", "address_1", "address_line1", "address_line_1",
             "full_address", "adres", "adresa", "adresse", "direccion", "indirizzo", "endereco"),
    "street": ("street", "ulica", "ulitsa", "ulitca", "calle", "rua", "strasse"),
    "city": ("city", "town", "gorod", "ciudad", "citta", "cidade", "miasto", "stadt", "ville", "mesto", "oras"),
    "area": ("area", "region", "state", "province", "oblast", "provincia", "estado", "county", "wojewodztwo"),
    "count": ("count", "quantity", "qty", "kolichestvo", "kol_vo", "cantidad", "quantita", "ilosc", "menge"),
    "country": ("country", "geo", "country_code", "countrycode", "strana", "pais", "paese", "kraj"),
}

#: A kit's field name (lower-case, ``_`` for ``-``) -> the order field it holds, one of :data:`LEAD_FIELDS`.
FIELD_NAMES: Mapping[str, str] = MappingProxyType(
    {name: lead_field for lead_field, names in _NAMES_BY_FIELD.items() for name in names})


def _field_key(name: str) -> str:
    """``order[phone]`` -> ``phone``, ``e-mail`` -> ``e_mail``: the part of a name that says what it holds."""
    parts = [part.strip() for part in re.split(r"[\[\]]+", name)]
    meaningful = [part for part in parts if part and not part.isdigit()]  # phone[0], order[0][phone]
    last = meaningful[-1] if meaningful else name.strip()
    return re.sub(r"[-\s]+", "_", last.lower())


def canonical_field(name: str, aliases: Mapping[str, str] = _NONE) -> str | None:
    """The order field (one of :data:`LEAD_FIELDS`) a kit's field ``name`` holds, or None.

    The operator's ``aliases`` (``site.form_aliases``) come first, compared
    case-insensitively; then :data:`FIELD_NAMES`. ``order[phone]`` is read as
    ``phone``, and ``-`` and ``_`` are the same.
    """
    key = _field_key(name)
    exact = [lead_field for kit_name, lead_field in aliases.items() if kit_name.strip().lower() == name.strip().lower()]
    loose = [lead_field for kit_name, lead_field in aliases.items() if _field_key(kit_name) == key]
    for lead_field in (*exact, *loose):
        if lead_field in LEAD_FIELDS:
            return lead_field
    return FIELD_NAMES.get(key)


def map_fields(posted: Mapping[str, str], aliases: Mapping[str, str] = _NONE) -> dict[str, str]:
    """A kit's posted fields as order fields: ``{"fio": "Ann", "tel": "+48..."}`` -> ``{"name": ..., "phone": ...}``.

    The first non-empty value of each order field wins; ``first_name`` and
    ``last_name`` become ``name`` and ``last``; unknown names are dropped.
    """
    mapped: dict[str, str] = {}
    for name, value in posted.items():
        lead_field = canonical_field(name, aliases)
        if lead_field is not None and lead_field not in mapped and value.strip():
            mapped[lead_field] = value
    return mapped


# -- tracker macros -----------------------------------------------------------

_ID = r"[^\W\d][\w.:-]*"  # a letter or _ first: "{1}" and "$5" are not macros
_MACRO = re.compile(rf"""
    \{{\{{\s*{_ID}\s*\}}\}}     # {{{{sub1}}}} {{{{ad.name}}}} (Facebook)
  | \{{\s*{_ID}\s*\}}           # {{clickid}}
  | \$\{{\s*{_ID}\s*\}}         # ${{subid}}
  | \[\[\s*{_ID}\s*\]\]         # [[subid]]
  | \[\s*{_ID}\s*\]             # [subid]
  | %{_ID}%                     # %sub1%
  | \$[^\W\d]\w*                # $subid
  | __[A-Za-z0-9]\w*__          # __CALLBACK_PARAM__ (TikTok)
""", re.VERBOSE)


def is_macro(value: str) -> bool:
    """Whether ``value`` is a tracker macro nobody filled in: ``{clickid}``, ``{{sub1}}``, ``[subid]``, ``%sub1%``,
    ``$subid``, ``${x}``, ``__CID__``; not ``50%off``, ``$5`` or any ordinary value."""
    return _MACRO.fullmatch(value.strip()) is not None
