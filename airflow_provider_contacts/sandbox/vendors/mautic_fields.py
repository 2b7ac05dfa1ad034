"""Mautic's contact and company fields, and how its API form reads a value into each of them.

Plain Python, no HTTP. Facts from mautic/mautic 5.x (paths relative to ``app/bundles``):

* the field set is what a fresh install creates: ``LeadBundle/Model/FieldModel.php::$coreFields``
  and ``$coreCompanyFields``, installed in that order (ids 1, 2, ... across both lists) by
  ``InstallBundle/InstallFixtures/ORM/LeadFieldData.php`` with the labels of
  ``InstallBundle/Translations/en_US/fixtures.ini``; the sandbox instance adds two custom fields
  after them (``newsletter``, ``lifetime_value``), as a real instance has its own;
* a value goes through ``CoreBundle/Form/RequestTrait.php::prepareParametersFromRequest``, then
  the form built by ``LeadBundle/Form/Type/EntityFieldsBuildFormTrait.php`` (choice lists,
  number parsing, email check, lengths) and ``LeadBundle/Form/Type/LeadType.php`` (the email is
  cleaned by ``InputHelper::email`` first); a failing value is a form error, reported by
  ``CoreBundle/Controller/FormErrorMessagesTrait.php`` as ``"<alias>: <message>"``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

UTC = timezone.utc

NOT_VALID = "This value is not valid."
#: a TextType/LookupType field also carries ``Length(max=191)`` (EntityFieldsBuildFormTrait)
TEXT_MAX = 191
#: ``LeadField::$charLengthLimit`` defaults to 64 and the install fixture does not change it, so
#: a fresh install limits every field to 64 characters (instances upgraded from before 2.15 got
#: 255 from migration Version20190524124819): the emulator setting ``char_length_limit``.
DEFAULT_CHAR_LIMIT = 64


def too_long(limit: int) -> str:
    return f"This value is too long. It should have {limit} character{'s' if limit != 1 else ''} or less."


# ---- PHP helpers ---------------------------------------------------------------------------
def php_serialize(value: Any) -> str:
    """PHP ``serialize()`` of lists/dicts/scalars: the raw ``properties`` column that the API
    shows in a contact's field groups (read with DBAL, ``CustomFieldRepositoryTrait``)."""
    if value is None:
        return "N;"
    if isinstance(value, bool):
        return f"b:{int(value)};"
    if isinstance(value, int):
        return f"i:{value};"
    if isinstance(value, float):
        return f"d:{value!r};"
    if isinstance(value, str):
        return f's:{len(value.encode("utf-8"))}:"{value}";'
    items = list(enumerate(value)) if isinstance(value, (list, tuple)) else list(value.items())
    return f"a:{len(items)}:{{" + "".join(php_serialize(k) + php_serialize(v) for k, v in items) + "}"


def php_str(value: Any) -> str:
    """PHP ``(string)`` of a JSON scalar (Symfony's ``Form::submit`` casts scalars so)."""
    if value is True:
        return "1"
    if value is False or value is None:
        return ""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value)


_DATE_RE = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T\s]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})?\s*$",
    re.IGNORECASE,
)


def strtotime(text: str, now: datetime | None = None) -> datetime | None:
    """A subset of PHP ``strtotime``: ``Y-m-d``, ``Y-m-d H:i[:s]`` (``T`` or space), an
    optional ``Z``/offset, ``@<epoch>``, ``now``/``today``. Anything else is ``None`` (PHP
    reads more formats; they are not emulated). Results are UTC (PHP's default timezone)."""
    value = text.strip()
    lowered = value.lower()
    if lowered in ("now", "today", "midnight"):
        moment = now or datetime.now(UTC)
        return moment.replace(hour=0, minute=0, second=0, microsecond=0) if lowered != "now" else moment
    if lowered.startswith("@"):
        try:
            return datetime.fromtimestamp(int(lowered[1:]), UTC)
        except (ValueError, OverflowError, OSError):
            return None
    match = _DATE_RE.match(value)
    if not match:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=UTC
        )
    except ValueError:
        return None
    if zone and zone.upper() not in ("Z", "UTC", "GMT"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment


# ---- the fields ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    id: int
    alias: str
    label: str
    type: str = "text"
    group: str = "core"
    object: str = "lead"
    order: int = 1
    fixed: bool = False
    listable: bool = False
    short: bool = False
    unique: bool = False
    required: bool = False
    properties: Any = field(default_factory=list)
    default: Any = None

    @property
    def choices(self) -> frozenset[str] | None:
        return _choices(self)

    @property
    def scale(self) -> int | None:
        props = self.properties if isinstance(self.properties, dict) else {}
        return int(props["scale"]) if props.get("scale") not in (None, "", 0) else None

    def group_entry(self) -> dict[str, Any]:
        """The static part of a contact's ``fields.<group>.<alias>`` entry (DBAL row of
        ``lead_fields``: strings, ``properties`` serialised)."""
        return {
            "id": str(self.id),
            "label": self.label,
            "alias": self.alias,
            "type": self.type,
            "group": self.group,
            "object": self.object,
            "is_fixed": "1" if self.fixed else "0",
            "properties": php_serialize(self.properties),
            "default_value": None if self.default is None else php_str(self.default),
        }

    def list_json(self) -> dict[str, Any]:
        """Serializer group ``leadFieldList`` (``/contacts/list/fields``)."""
        return {
            "id": self.id,
            "label": self.label,
            "alias": self.alias,
            "type": self.type,
            "group": self.group,
            "order": self.order,
            "object": self.object,
        }

    def details_json(self) -> dict[str, Any]:
        """``/fields/contact``: FieldApiController sets no serializer group, so every property
        of ``LeadField::loadApiMetadata`` and the publish details are shown."""
        return {
            "isPublished": True,
            "dateAdded": None,
            "dateModified": None,
            "createdBy": None,
            "createdByUser": None,
            "modifiedBy": None,
            "modifiedByUser": None,
            **self.list_json(),
            "defaultValue": None if self.default is None else php_str(self.default),
            "isRequired": self.required,
            "isFixed": self.fixed,
            "isListable": self.listable,
            "isVisible": True,
            "isShortVisible": self.short,
            "isUniqueIdentifier": self.unique,
            "isPubliclyUpdatable": False,
            "properties": self.properties,
        }


_INDUSTRIES = [
    "Aerospace & Defense",
    "Agriculture",
    "Apparel",
    "Automotive & Assembly",
    "Banking",
    "Biotechnology",
    "Chemicals",
    "Communications",
    "Construction",
    "Consumer Packaged Goods",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Entertainment",
    "Environmental",
    "Finance",
    "Food & Beverage",
    "Government",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "Machinery",
    "Manufacturing",
    "Media",
    "Metals & Mining",
    "Not for Profit",
    "Oil & Gas",
    "Packaging & Paper",
    "Private Equity & Principal Investors",
    "Recreation",
    "Real Estate",
    "Retail",
    "Semiconductors",
    "Shipping",
    "Social Sector",
    "Technology",
    "Telecommunications",
    "Transportation",
    "Utilities",
    "Other",
]

#: (alias, label, options) in FieldModel::$coreFields order
_CONTACT_SPECS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "title",
        "Title",
        {"type": "lookup", "properties": {"list": ["Mr", "Mrs", "Miss"]}, "fixed": True, "listable": True},
    ),
    ("firstname", "First Name", {"fixed": True, "short": True, "listable": True}),
    ("lastname", "Last Name", {"fixed": True, "short": True, "listable": True}),
    ("company", "Primary company", {"fixed": True, "listable": True}),
    ("position", "Position", {"fixed": True, "listable": True}),
    ("email", "Email", {"type": "email", "unique": True, "fixed": True, "short": True, "listable": True}),
    ("mobile", "Mobile", {"type": "tel", "fixed": True, "listable": True}),
    ("phone", "Phone", {"type": "tel", "fixed": True, "listable": True}),
    ("points", "Points", {"type": "number", "fixed": True, "listable": True, "default": 0}),
    ("fax", "Fax", {"type": "tel", "listable": True}),
    ("address1", "Address Line 1", {"fixed": True, "listable": True}),
    ("address2", "Address Line 2", {"fixed": True, "listable": True}),
    ("city", "City", {"fixed": True, "listable": True}),
    ("state", "State", {"type": "region", "fixed": True, "listable": True}),
    ("zipcode", "Zip Code", {"fixed": True, "listable": True}),
    ("country", "Country", {"type": "country", "fixed": True, "listable": True}),
    ("preferred_locale", "Preferred Locale", {"type": "locale", "fixed": True, "listable": True}),
    ("timezone", "Preferred Timezone", {"type": "timezone", "fixed": True, "listable": True}),
    ("last_active", "Date Last Active", {"type": "datetime", "fixed": True, "listable": True}),
    ("attribution_date", "Attribution Date", {"type": "datetime", "fixed": True, "listable": True}),
    (
        "attribution",
        "Attribution",
        {"type": "number", "properties": {"roundmode": 4, "scale": 2}, "fixed": True, "listable": True},
    ),
    ("website", "Website", {"type": "url", "listable": True}),
    ("facebook", "Facebook", {"listable": True, "group": "social"}),
    ("foursquare", "Foursquare", {"listable": True, "group": "social"}),
    ("instagram", "Instagram", {"listable": True, "group": "social"}),
    ("linkedin", "LinkedIn", {"listable": True, "group": "social"}),
    ("skype", "Skype", {"listable": True, "group": "social"}),
    ("twitter", "Twitter", {"listable": True, "group": "social"}),
]
#: FieldModel::$coreCompanyFields order
_COMPANY_SPECS: list[tuple[str, str, dict[str, Any]]] = [
    ("companyaddress1", "Address 1", {"fixed": True, "listable": True}),
    ("companyaddress2", "Address 2", {"fixed": True, "listable": True}),
    ("companyemail", "Company Email", {"type": "email", "fixed": True, "listable": True}),
    ("companyphone", "Phone", {"type": "tel", "fixed": True, "listable": True}),
    ("companycity", "City", {"fixed": True, "listable": True}),
    ("companystate", "State", {"type": "region", "fixed": True, "listable": True}),
    ("companyzipcode", "Zip Code", {"fixed": True, "listable": True}),
    ("companycountry", "Country", {"type": "country", "fixed": True, "listable": True}),
    ("companyname", "Company Name", {"fixed": True, "required": True, "listable": True, "unique": True}),
    ("companywebsite", "Website", {"fixed": True, "type": "url", "listable": True}),
    (
        "companynumber_of_employees",
        "Number of Employees",
        {
            "type": "number",
            "properties": {"roundmode": 4, "scale": 0},
            "group": "professional",
            "listable": True,
        },
    ),
    ("companyfax", "Fax", {"type": "tel", "listable": True, "group": "professional"}),
    (
        "companyannual_revenue",
        "Annual Revenue",
        {
            "type": "number",
            "properties": {"roundmode": 4, "scale": 2},
            "listable": True,
            "group": "professional",
        },
    ),
    (
        "companyindustry",
        "Industry",
        {
            "type": "select",
            "group": "professional",
            "properties": {"list": [{"label": i, "value": i} for i in _INDUSTRIES]},
        },
    ),
    ("companydescription", "Description", {"listable": True, "group": "professional"}),
]
#: custom fields of the sandbox instance (created in Mautic's UI on a real one)
_SANDBOX_CUSTOM: list[tuple[str, str, dict[str, Any]]] = [
    (
        "newsletter",
        "Newsletter",
        {"type": "boolean", "properties": {"no": "No", "yes": "Yes"}, "listable": True},
    ),
    ("lifetime_value", "Lifetime value", {"type": "number", "group": "professional", "listable": True}),
]


def _build() -> tuple[list[Field], list[Field]]:
    contact: list[Field] = []
    company: list[Field] = []
    next_id = 1
    for specs, object_, out in ((_CONTACT_SPECS, "lead", contact), (_COMPANY_SPECS, "company", company)):
        for order, (alias, label, opts) in enumerate(specs, start=1):
            out.append(Field(id=next_id, alias=alias, label=label, object=object_, order=order, **opts))
            next_id += 1
    for alias, label, opts in _SANDBOX_CUSTOM:
        contact.append(
            Field(id=next_id, alias=alias, label=label, object="lead", order=len(contact) + 1, **opts)
        )
        next_id += 1
    return contact, company


CONTACT_FIELDS, COMPANY_FIELDS = _build()
CONTACT_FIELD = {f.alias: f for f in CONTACT_FIELDS}
COMPANY_FIELD = {f.alias: f for f in COMPANY_FIELDS}
CONTACT_GROUPS = ("core", "social", "personal", "professional")  # LeadRepository::getFieldGroups
COMPANY_GROUPS = ("core", "professional", "other")  # CompanyRepository::getFieldGroups
UNIQUE_CONTACT_FIELDS = tuple(f.alias for f in CONTACT_FIELDS if f.unique)


_CHOICE_CACHE: dict[str, frozenset[str]] = {}


def _choices(f: Field) -> frozenset[str] | None:
    key = f.type if f.type in ("country", "region", "locale", "timezone") else None
    if key is not None:
        if key not in _CHOICE_CACHE:
            from airflow_provider_contacts.sandbox.vendors import mautic_choices as data

            _CHOICE_CACHE[key] = frozenset(
                {
                    "country": data.COUNTRIES,
                    "region": tuple(r for regions in data.REGIONS.values() for r in regions),
                    "locale": data.LOCALES,
                    "timezone": data.TIMEZONES,
                }[key]
            )
        return _CHOICE_CACHE[key]
    if f.type in ("select", "multiselect"):
        items = (f.properties or {}).get("list") or []
        return frozenset(str(i["value"]) if isinstance(i, dict) else str(i) for i in items)
    return None


# ---- email (EmailBundle/Helper/EmailValidator.php, CoreBundle/Helper/InputHelper::email) ------
_EMAIL_KEEP = re.compile(r"[^A-Za-z0-9!#$%&'*+\-=?^_`{|}~@.\[\]]")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_EMAIL_RE = re.compile(
    rf"^{_ATOM}(?:\.{_ATOM})*@"
    r"(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"|\[(?:\d{1,3}\.){3}\d{1,3}\])$"
)


def clean_email(value: Any) -> str:
    """``InputHelper::email``: first 254 characters, characters outside an email's alphabet
    removed (``FILTER_SANITIZE_EMAIL``: spaces and non-ASCII go), trimmed."""
    return _EMAIL_KEEP.sub("", php_str(value)[:254]).strip()


def email_error(address: str) -> str | None:
    """``EmailValidator::validate`` without the DNS check: PHP's ``FILTER_VALIDATE_EMAIL``
    (approximated: dot-atom local part of at most 64 characters, a dotted host name or an IP
    literal, 254 characters at most), then the characters ``^&*%`` are refused."""
    local = address.rpartition("@")[0]
    if not address or len(address) > 254 or len(local) > 64 or not _EMAIL_RE.match(address):
        return f"{address or '?'} is invalid."
    if any(c in address for c in "^&*%"):
        return f"{address} has characters not allowed in email addresses."
    return None


# ---- numbers (Symfony NumberToLocalizedStringTransformer, en locale) ---------------------------
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def parse_number(text: str) -> float | None:
    """The ``en`` parser of a NumberType without grouping: ``,`` is read as the decimal
    separator; anything left unparsed is a transformation failure ("This value is not valid.")."""
    value = text.replace(",", ".")
    if not _NUMBER_RE.match(value):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def round_half_up(value: float, scale: int) -> float:
    factor = 10**scale
    return math.floor(abs(value) * factor + 0.5) / factor * (1 if value >= 0 else -1)


_URL_HAS_SCHEME = re.compile(r"^(?:[/.]|[\w+.-]+://|[^:/?@#]+@)")

_TRUE_WORDS = ("1", "true", "on", "yes")


def php_bool(value: Any) -> bool:
    """``filter_var($v, FILTER_VALIDATE_BOOLEAN)`` cast to bool."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value == 1
    return str(value).strip().lower() in _TRUE_WORDS


class DropValue(Exception):
    """The value is ignored silently (e.g. a date PHP cannot read)."""


def _multiselect(f: Field, given: list[Any]) -> str:
    """The stored text of a multiselect field's values (each one of its choices)."""
    items = [php_str(i) for i in given]
    if any(i not in (f.choices or frozenset()) for i in items):
        raise ValueError(NOT_VALID)
    return "|".join(items)


def read_value(f: Field, raw: Any) -> Any:
    """What the form makes of one submitted value (``raw`` is not None): the Python value to
    store (str, float, bool, or ``None`` for blank). Raises ``ValueError(message)`` for a form
    error and :class:`DropValue` when Mautic ignores the value."""
    type_ = f.type
    if type_ == "boolean":
        if isinstance(raw, list) and len(raw) == 1:
            raw = raw[-1]
        if raw == "":
            return None
        return php_bool(raw)
    if isinstance(raw, (dict, list)) and type_ not in ("multiselect",):
        if type_ in ("datetime", "date", "time"):
            raise TypeError("array given to strtotime")  # PHP TypeError: HTTP 500
        raise ValueError(NOT_VALID)
    if type_ in ("datetime", "date", "time"):
        text = php_str(raw)
        digits = re.sub(r"[/\- ]", "", text)
        lead = re.match(r"\s*[+-]?\d+", digits)
        if not lead or int(lead.group()) == 0:
            raise DropValue()  # "Prevent zero based date placeholders" (RequestTrait)
        moment = strtotime(text)
        if moment is None:
            raise DropValue()  # strtotime() false: the parameter is unset, no error
        if type_ == "date":
            return moment.strftime("%Y-%m-%d")
        if type_ == "time":
            return moment.strftime("%H:%M:%S")
        # RequestTrait formats 'Y-m-d H:i' (the seconds are lost), the form reads it back
        return moment.strftime("%Y-%m-%d %H:%M:00")
    if isinstance(raw, list):  # only a multiselect field gets here with a list
        return _multiselect(f, raw)
    text = php_str(raw)
    if text == "":
        return None
    if type_ == "number":
        number = parse_number(text.strip())
        if number is None:
            raise ValueError(NOT_VALID)
        return round_half_up(number, f.scale) if f.scale is not None else number
    if type_ == "multiselect":
        return _multiselect(f, text.split("|"))
    choices = f.choices
    if choices is not None:
        if text not in choices:
            raise ValueError(NOT_VALID)
        return text
    if type_ == "email":
        cleaned = clean_email(text)
        if not cleaned:
            return None
        problem = email_error(cleaned)
        if problem:
            raise ValueError(problem)
        return cleaned
    if type_ == "url" and not _URL_HAS_SCHEME.match(text):
        text = "http://" + text  # UrlType's default_protocol (FixUrlProtocolListener)
    return text


def check_length(f: Field, value: Any, char_limit: int) -> str | None:
    """Length constraints: ``charLengthLimit`` on every field, then 191 on text and lookup
    fields; Mautic keeps the last message of a field."""
    if value is None or isinstance(value, bool):
        return None
    text = value if isinstance(value, str) else php_str(value)
    message = None
    if char_limit and len(text) > char_limit:
        message = too_long(char_limit)
    if f.type in ("text", "lookup") and len(text) > TEXT_MAX:
        message = too_long(TEXT_MAX)
    return message


def bind(
    fields: dict[str, Field], body: dict[str, Any], char_limit: int
) -> tuple[dict[str, Any], dict[str, Any], dict[str, list[str]]]:
    """Read the field values of a request body: ``(values, direct, errors)``. ``values`` are the
    form's data for the fields present (blank as ``None``); ``direct`` are booleans, which
    ``RequestTrait`` sets on the contact before the form (so the 0/blank rules of
    POST/PATCH never apply to them); ``errors`` maps an alias to its messages."""
    values: dict[str, Any] = {}
    direct: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for alias, raw in body.items():
        f = fields.get(alias)
        if f is None:
            continue
        if raw is None:
            values[alias] = None
            continue
        try:
            value = read_value(f, raw)
        except DropValue:
            continue
        except ValueError as err:
            errors[alias] = [str(err)]
            continue
        if f.type == "boolean" and value is not None:
            direct[alias] = value
            continue
        problem = check_length(f, value, char_limit)
        if problem:
            errors[alias] = [problem]
            continue
        values[alias] = value
    if errors:
        order = {a: f.order for a, f in fields.items()}
        errors = {a: errors[a] for a in sorted(errors, key=lambda a: order[a])}
    return values, direct, errors


def shown(f: Field, value: Any) -> Any:
    """A stored value as the API shows it: numbers cast by ``fixNumbers`` (int without a
    scale, float with one), booleans as 0/1 (``formatFieldValues``), the rest as stored."""
    if value is None:
        return None
    if f.type == "number":
        return int(value) if f.scale is None else float(value)
    if f.type == "boolean":
        return int(bool(value))
    return value


def normalized(f: Field, value: Any) -> Any:
    """``CustomFieldValueHelper::normalize``: ``''`` for no value, a boolean's yes/no label, a
    select's label; otherwise the value."""
    if value is None:
        return ""
    if f.type == "boolean" and isinstance(f.properties, dict):
        label = f.properties.get("yes" if value else "no")
        return label if label is not None else value
    return value
