"""What differs between the Airflow and Python versions this provider supports, in one place.

Supported: Apache Airflow 3.1, 3.2 and 3.3 on the Pythons each of them supports (3.10 and up;
README "Supported versions"). The provider's modules import version-dependent names from here
(the example DAGs excepted: they use public imports only).

- ``AirflowNotFoundException``, ``AirflowSensorTimeout``, ``TaskDeferred``,
  ``AirflowRescheduleException``: ``airflow.sdk.exceptions`` from 3.2; 3.1 has them in
  ``airflow.exceptions`` only.
- Connection forms: 3.2+ reads the declarative ``conn-fields`` / ``ui-field-behaviour`` of
  ``get_provider_info()``; 3.1 only calls the hook's ``get_connection_form_widgets()`` and
  ``get_ui_field_behaviour()``. :func:`add_legacy_connection_form` derives both from the same
  declarations (3.2+ ignores them when the declarations exist).
- ``airflow.sdk.conf`` is new in 3.2 (:func:`airflow_conf`).
- The secrets masker's ``redact`` is in ``airflow.sdk._shared.secrets_masker`` from 3.2 (the old
  ``airflow.sdk.execution_time.secrets_masker`` warns there), only in the old place on 3.1
  (:func:`redact_secrets`).
- State stores (``task_state_store``, ``asset_state_store``) exist from 3.3; the code that uses
  them falls back where they are absent (points ledger file, trigger ``state_path``).
- Dates: Python 3.10's ``datetime.fromisoformat`` refuses what 3.11+ reads (7 fractional
  digits, ``Z``...); ``_time.parse_iso`` reads them on every Python.
"""

from __future__ import annotations

import sys
from typing import Any

from airflow import __version__ as AIRFLOW_VERSION
from packaging.version import Version

_BASE_VERSION = Version(Version(AIRFLOW_VERSION).base_version)
AIRFLOW_V_3_2_PLUS = _BASE_VERSION >= Version("3.2.0")
AIRFLOW_V_3_3_PLUS = _BASE_VERSION >= Version("3.3.0")

try:  # Airflow >= 3.2
    from airflow.sdk.exceptions import (
        AirflowNotFoundException,
        AirflowRescheduleException,
        AirflowSensorTimeout,
        TaskDeferred,
    )
except ImportError:  # Airflow 3.1
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowNotFoundException,
        AirflowRescheduleException,
        AirflowSensorTimeout,
        TaskDeferred,
    )

__all__ = [
    "AIRFLOW_V_3_2_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "AirflowNotFoundException",
    "AirflowRescheduleException",
    "AirflowSensorTimeout",
    "TaskDeferred",
    "add_legacy_connection_form",
    "airflow_conf",
    "redact_secrets",
]


def airflow_conf() -> Any:
    """Airflow's configuration: ``airflow.sdk.conf`` from 3.2, ``airflow.configuration.conf`` on 3.1."""
    try:
        from airflow.sdk import conf as sdk_conf
    except ImportError:  # Airflow 3.1
        from airflow.configuration import conf as core_conf

        return core_conf
    return sdk_conf


def redact_secrets(value: Any) -> Any:
    """``value`` (a text, or a row: dicts and lists walked) with every secret Airflow's masker
    knows (connection passwords, secret extras, registered tokens) and the values of fields with
    a sensitive name (``password``, ``api_key``...) replaced by ``***``: for data the provider
    shows in the task log, such as a rejected row."""
    try:  # Airflow >= 3.2
        from airflow.sdk._shared.secrets_masker import redact
    except ImportError:  # Airflow 3.1
        from airflow.sdk.execution_time.secrets_masker import redact  # type: ignore[no-redef]
    return redact(value)


# ---- connection forms for Airflow 3.1 ---------------------------------------------------------
def _conn_type_config(conn_type: str) -> dict[str, Any] | None:
    from airflow_provider_contacts.get_provider_info import CONNECTION_TYPES

    return next((c for c in CONNECTION_TYPES if c["connection-type"] == conn_type), None)


def legacy_form_widgets(conn_type: str) -> dict[str, Any]:
    """The ``conn-fields`` of ``conn_type`` as the WTForms fields Airflow 3.1 expects (it allows
    String, Integer, Password and Boolean fields; a number becomes a text field, which the
    hooks read as a number). Imported here because the 3.1 API server substitutes its own
    stand-ins for WTForms and Flask-AppBuilder while it calls this."""
    from importlib import import_module

    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import BooleanField, IntegerField, PasswordField, StringField

    validators = import_module("wtforms.validators")
    if sys.version_info < (3, 11):  # there unittest.mock puts the 3.1 stand-ins on the attribute path
        validators = import_module("wtforms").validators
    Optional, any_of = validators.Optional, validators.any_of

    config = _conn_type_config(conn_type) or {"conn-fields": {}}
    widgets: dict[str, Any] = {}
    for name, field in config["conn-fields"].items():
        schema = field["schema"]
        kind = schema["type"][0] if isinstance(schema["type"], list) else schema["type"]
        label, description = lazy_gettext(field["label"]), lazy_gettext(field["description"])
        checks = [Optional()] + ([any_of(schema["enum"])] if schema.get("enum") else [])
        if schema.get("format") == "password":
            widgets[name] = PasswordField(label, widget=BS3PasswordFieldWidget(), description=description)
        elif kind == "boolean":
            widgets[name] = BooleanField(label, description=description, default=schema.get("default"))
        elif kind == "integer":
            widgets[name] = IntegerField(
                label,
                validators=checks,
                widget=BS3TextFieldWidget(),
                description=description,
                default=schema.get("default"),
            )
        else:
            default = schema.get("default")
            widgets[name] = StringField(
                label,
                validators=checks,
                widget=BS3TextFieldWidget(),
                description=description,
                default=None if default is None else str(default),
            )
    return widgets


def legacy_field_behaviour(conn_type: str) -> dict[str, Any]:
    """The ``ui-field-behaviour`` of ``conn_type`` with the key names Airflow 3.1 expects."""
    config = _conn_type_config(conn_type) or {}
    return {key.replace("-", "_"): value for key, value in config.get("ui-field-behaviour", {}).items()}


def add_legacy_connection_form(hook_class: type[Any]) -> None:
    """Give a hook class whose ``conn_type`` is declared in ``get_provider_info()`` its own
    ``get_connection_form_widgets`` / ``get_ui_field_behaviour`` (Airflow 3.1 reads them only
    from the class's own ``__dict__``). Airflow 3.2+ skips them because the declarations exist."""
    conn_type = getattr(hook_class, "conn_type", None)
    if not conn_type or _conn_type_config(conn_type) is None:
        return
    hook_class.get_connection_form_widgets = classmethod(lambda cls: legacy_form_widgets(cls.conn_type))
    hook_class.get_ui_field_behaviour = classmethod(lambda cls: legacy_field_behaviour(cls.conn_type))
