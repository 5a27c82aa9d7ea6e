"""The registration form of each role: what it asks, in what order, and how answers are checked.

One description (``FieldSpec``) per field serves both sides: the gateway renders the form from
``fields_for(role)`` (labels, hints, asterisks for required fields, autocomplete values), and
the marshmallow schemas here are built from the same descriptions, so the form shown and the
form checked cannot drift apart. Every message names its field and says what to do
("Enter your fax number"), because it is shown beside the field to the person who typed it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from services.identity.roles import Role
from services.registration import checks

APPLICABLE_ROLES: tuple[Role, ...] = (
    Role.PRESCRIBER,
    Role.PHARMACIST,
    Role.LAW_ENFORCEMENT,
    Role.LAW_ENFORCEMENT_MM,
    Role.DELEGATE,
)

PROFILE_FIELDS = ("first_name", "last_name", "facility", "job")

FORM_ERROR = "_form"  # the key of a message about the form as a whole, not one field

NAME_LENGTH = 100
EMAIL_LENGTH = 254  # the longest address SMTP can carry


@dataclass(frozen=True)
class FieldSpec:
    """One field as the gateway shows it; ``noun`` is how messages speak of it."""

    name: str
    label: str
    noun: str  # "your fax number": "Enter your fax number"
    required: bool = True
    hint: str | None = None
    input_type: str = "text"  # "text", "email" or "tel"
    autocomplete: str = "off"
    max_length: int = NAME_LENGTH


Problem = Callable[[str], str | None]
Normalise = Callable[[str], str]


def _phone(what: str) -> tuple[Problem, Normalise]:
    return (lambda value: checks.phone_problem(value, what)), checks.normalise_phone


# How each field's value is checked and stored, beyond "present, stripped, not too long".
_CHECKS: dict[str, tuple[Problem, Normalise]] = {
    "phone": _phone("phone number"),
    "fax": _phone("fax number"),
    "supervisor_phone": _phone("phone number"),
    "state": (checks.state_problem, checks.normalise_state),
    "zip": (checks.zip_problem, checks.normalise_zip),
    "dea_number": (checks.dea_problem, checks.normalise_dea),
    "npi": (checks.npi_problem, checks.normalise_npi),
    "ncpdp": (checks.ncpdp_problem, checks.normalise_ncpdp),
}

_EMAIL_FIELDS = {"email", "supervisor_email"}

_COMMON = [
    FieldSpec("first_name", "First name", "your first name", autocomplete="given-name"),
    FieldSpec("last_name", "Last name", "your last name", autocomplete="family-name"),
    FieldSpec(
        "job",
        "Job title",
        "your job title",
        hint="For example: Physician, Staff pharmacist, Detective",
        autocomplete="organization-title",
    ),
    FieldSpec(
        "facility",
        "Facility",
        "your facility",
        required=False,
        hint="The practice, hospital, pharmacy or agency where you work",
        autocomplete="organization",
        max_length=200,
    ),
    FieldSpec(
        "email",
        "Email address",
        "your email address",
        hint="Where the program writes to you about your registration",
        input_type="email",
        autocomplete="email",
        max_length=EMAIL_LENGTH,
    ),
    FieldSpec(
        "phone",
        "Phone number",
        "your phone number",
        hint="10 digits, like (860) 555-0100",
        input_type="tel",
        autocomplete="work tel",
        max_length=30,
    ),
    FieldSpec(
        "fax",
        "Fax number",
        "your fax number",
        hint="10 digits, like (860) 555-0199",
        input_type="tel",
        autocomplete="fax tel",
        max_length=30,
    ),
    FieldSpec(
        "address_line1",
        "Address",
        "your street address",
        hint="Your work address",
        autocomplete="address-line1",
        max_length=200,
    ),
    FieldSpec(
        "address_line2",
        "Address line 2",
        "the second line of your address",
        required=False,
        hint="Suite, floor or building",
        autocomplete="address-line2",
        max_length=200,
    ),
    FieldSpec("city", "City or town", "your city or town", autocomplete="address-level2"),
    FieldSpec(
        "state",
        "State",
        "your state",
        hint="2 letters, like CT",
        autocomplete="address-level1",
        max_length=2,
    ),
    FieldSpec(
        "zip",
        "ZIP code",
        "your ZIP code",
        hint="5 digits, or ZIP+4 like 06106-1234",
        autocomplete="postal-code",
        max_length=10,
    ),
]

_LICENSE = FieldSpec(
    "license_number",
    "State license number",
    "your state license number",
    hint="As printed on your license",
    max_length=30,
)
_NPI = FieldSpec(
    "npi", "NPI", "your National Provider Identifier (NPI)", hint="10 digits", max_length=12
)

_LAW_ENFORCEMENT = [
    FieldSpec("agency", "Agency", "your agency", max_length=200),
    FieldSpec("badge_number", "Badge number", "your badge number", max_length=30),
    FieldSpec(
        "supervisor_name",
        "Supervisor's name",
        "your supervisor's name",
        hint="The officer who supervises your investigations",
        max_length=200,
    ),
    FieldSpec(
        "supervisor_phone",
        "Supervisor's phone number",
        "your supervisor's phone number",
        hint="10 digits, like (860) 555-0100",
        input_type="tel",
        max_length=30,
    ),
    FieldSpec(
        "supervisor_email",
        "Supervisor's email address",
        "your supervisor's email address",
        input_type="email",
        max_length=EMAIL_LENGTH,
    ),
]

_BY_ROLE: dict[Role, list[FieldSpec]] = {
    Role.PRESCRIBER: [
        FieldSpec(
            "csp_number",
            "Controlled substance registration (CSP) number",
            "your controlled substance registration (CSP) number",
            hint="Your Connecticut controlled substance practitioner registration",
            max_length=30,
        ),
        FieldSpec(
            "dea_number",
            "DEA number",
            "your DEA number",
            hint="2 letters and 7 digits, like AB1234563",
            max_length=12,
        ),
        _NPI,
        _LICENSE,
        FieldSpec(
            "specialty",
            "Specialty",
            "your specialty",
            hint="For example: Family medicine, Dentistry",
        ),
    ],
    Role.PHARMACIST: [
        _LICENSE,
        FieldSpec("pharmacy_name", "Pharmacy name", "the name of your pharmacy", max_length=200),
        FieldSpec(
            "ncpdp",
            "Pharmacy NCPDP number",
            "your pharmacy's NCPDP number",
            hint="7 digits",
            max_length=10,
        ),
        _NPI,
    ],
    Role.LAW_ENFORCEMENT: _LAW_ENFORCEMENT,
    Role.LAW_ENFORCEMENT_MM: _LAW_ENFORCEMENT,
    Role.DELEGATE: [
        FieldSpec(
            "supervisor_email",
            "Supervisor's email address",
            "the email address of the prescriber or pharmacist you work for",
            hint=(
                "The address your supervising prescriber or pharmacist uses for CPMRS; "
                "they approve your access"
            ),
            input_type="email",
            max_length=EMAIL_LENGTH,
        ),
    ],
}

FIELDS: dict[str, list[FieldSpec]] = {
    str(role): [*_COMMON, *_BY_ROLE[role]] for role in APPLICABLE_ROLES
}


def fields_for(role: str) -> list[FieldSpec]:
    """The fields of ``role``'s form, in display order."""
    return list(FIELDS[str(_applicable(role))])


class Answer(fields.String):
    """A typed answer: stripped, required unless said otherwise, checked, stored normalised.

    A null counts as blank, so a cleared field in a JSON request reads like an empty box.
    """

    def __init__(self, spec: FieldSpec):
        self.spec = spec
        blank = f"Enter {spec.noun}"
        optional = {} if spec.required else {"load_default": ""}
        super().__init__(
            required=spec.required,
            error_messages={"required": blank, "invalid": f"Enter {spec.noun} as text"},
            **optional,
        )

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs) -> Any:
        return super().deserialize("" if value is None else value, attr, data, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        spec = self.spec
        if not text:
            if spec.required:
                raise ValidationError(f"Enter {spec.noun}")
            return ""
        if spec.name in _CHECKS:  # its message says more than "too long" would
            problem, normalise = _CHECKS[spec.name]
            if message := problem(text):
                raise ValidationError(message)
            text = normalise(text)
        if len(text) > spec.max_length:
            raise ValidationError(
                f"{_capitalised(spec.noun)} is too long: keep it to {spec.max_length} "
                "characters or fewer"
            )
        return _email(text, spec) if spec.name in _EMAIL_FIELDS else text


_EMAIL = validate.Email()


def _email(text: str, spec: FieldSpec) -> str:
    try:
        return _EMAIL(text)
    except ValidationError:
        raise ValidationError(f"Enter {spec.noun} in the form name@example.org") from None


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _schema(name: str, specs: list[FieldSpec], base: type[Schema] = Schema) -> type[Schema]:
    """A schema class with one ``Answer`` per spec; unknown fields are refused (the default)."""
    return base.from_dict({spec.name: Answer(spec) for spec in specs}, name=name)


CommonForm = _schema("CommonForm", _COMMON)
PrescriberForm = _schema("PrescriberForm", _BY_ROLE[Role.PRESCRIBER], CommonForm)
PharmacistForm = _schema("PharmacistForm", _BY_ROLE[Role.PHARMACIST], CommonForm)
LawEnforcementForm = _schema("LawEnforcementForm", _LAW_ENFORCEMENT, CommonForm)
DelegateForm = _schema("DelegateForm", _BY_ROLE[Role.DELEGATE], CommonForm)
ProfileChange = _schema("ProfileChange", [s for s in _COMMON if s.name in PROFILE_FIELDS])

SCHEMAS: dict[Role, type[Schema]] = {
    Role.PRESCRIBER: PrescriberForm,
    Role.PHARMACIST: PharmacistForm,
    Role.LAW_ENFORCEMENT: LawEnforcementForm,
    Role.LAW_ENFORCEMENT_MM: LawEnforcementForm,
    Role.DELEGATE: DelegateForm,
}


def _applicable(role: str) -> Role:
    """``role`` as a Role one can apply for; ValueError otherwise (a caller's mistake)."""
    try:
        chosen = Role(role)
    except ValueError:
        chosen = None
    if chosen not in APPLICABLE_ROLES:
        raise ValueError(f"{role!r} is not a role one can apply for")
    return chosen


def validate_form(role: str, data: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(clean data, {field: message}) for ``role``'s form; the clean data is {} on any error.

    The clean data has every field of the role: optional fields left blank are "".
    """
    return _load(SCHEMAS[_applicable(role)](), data, partial=False)


def validate_profile_change(data: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(clean changes, {field: message}) for a request to change some of ``PROFILE_FIELDS``.

    Only the fields sent are checked and returned; at least one must be sent.
    """
    if isinstance(data, Mapping) and not data:
        return {}, {FORM_ERROR: "Change at least one of: first name, last name, facility, job"}
    clean, errors = _load(ProfileChange(), data, partial=True)
    if clean:  # load_default filled in the optional fields nobody sent
        clean = {name: value for name, value in clean.items() if name in data}
    return clean, errors


def _load(
    schema: Schema, data: Mapping[str, Any], *, partial: bool
) -> tuple[dict[str, str], dict[str, str]]:
    """Run the schema and turn its errors into one message per field."""
    if not isinstance(data, Mapping):
        return {}, {FORM_ERROR: "The form was not sent as a set of named fields"}
    try:
        return schema.load(data, partial=partial), {}
    except ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {}
        return {}, {name: _one_message(name, found, schema) for name, found in messages.items()}


def _one_message(name: str, found: Any, schema: Schema) -> str:
    if name not in schema.fields:
        return f"This form has no field named {name!r}; remove it"
    while isinstance(found, list | tuple):
        found = found[0] if found else ""
    return str(found)


def errors_text(errors: Mapping[str, str]) -> str:
    """``{field: message}`` as one line, "field: message; field: message": the text of a
    ``FormInvalid`` raised by the service, which callers split again with ``errors_in``."""
    return "; ".join(f"{name}: {message}" for name, message in errors.items())


def errors_in(text: str, known: set[str] | None = None) -> dict[str, str]:
    """``errors_text`` read back. A part that names no field (or none of ``known``) is kept
    under ``FORM_ERROR``, a message for the form as a whole."""
    errors: dict[str, str] = {}
    for part in filter(None, text.split("; ")):
        name, sep, message = part.partition(": ")
        if sep and " " not in name and (known is None or name in known):
            errors[name] = message
        else:
            errors[FORM_ERROR] = "; ".join(filter(None, [errors.get(FORM_ERROR), part]))
    return errors
