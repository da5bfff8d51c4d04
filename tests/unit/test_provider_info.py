from __future__ import annotations

import inspect
import re
import sys
import types
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from airflow_provider_sdrs.get_provider_info import get_provider_info
from airflow_provider_sdrs.hooks.sdrs import SdrsHook


def test_entry_point_is_registered():
    points = [
        ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("airflow_provider_sdrs")
    ]
    assert [ep.load() for ep in points] == [get_provider_info]


def test_declared_modules_and_classes_exist():
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-sdrs" and info["name"] and info["description"]
    for kind in ("hooks", "sensors", "triggers", "operators"):
        for entry in info[kind]:
            for module in entry["python-modules"]:
                import_module(module)
    (conn_type,) = info["connection-types"]
    module, _, name = conn_type["hook-class-name"].rpartition(".")
    assert getattr(import_module(module), name) is SdrsHook
    assert conn_type["connection-type"] == SdrsHook.conn_type == "sdrs"


def test_the_connection_form_has_one_source_which_feeds_provider_info_the_hook_and_the_settings(monkeypatch):
    from airflow_provider_sdrs._core import connection_form
    from airflow_provider_sdrs._core.settings import unknown_extra_keys

    # A field added to the one source shows up everywhere the form is read; a copy anywhere would miss it.
    probe = {"label": "Probe", "description": "a field added for this test", "schema": {"type": ["string", "null"]}}
    monkeypatch.setitem(connection_form.CONN_FIELDS, "probe_field", probe)
    monkeypatch.setitem(connection_form.UI_FIELD_BEHAVIOUR["relabeling"], "schema", "Probe label")

    (conn_type,) = get_provider_info()["connection-types"]
    assert conn_type["conn-fields"]["probe_field"] == probe
    assert conn_type["ui-field-behaviour"]["relabeling"]["schema"] == "Probe label"
    assert SdrsHook.get_ui_field_behaviour()["relabeling"]["schema"] == "Probe label"
    assert unknown_extra_keys({"probe_field": "x", "extra__sdrs__region": "eu-de", "regoin": "eu-de"}) == ["regoin"]
    assert "probe_field" in _form_widgets(monkeypatch)


def _form_widgets(monkeypatch) -> dict[str, Any]:
    """``get_connection_form_widgets`` with stand-ins for the Flask form classes, which Airflow 3.2+ lacks."""

    class Field:
        def __init__(self, label: str, *, widget: Any, description: str) -> None:
            self.label, self.widget, self.description = label, widget, description

    class PasswordField(Field):
        pass

    modules = {
        "flask_appbuilder": types.ModuleType("flask_appbuilder"),
        "flask_appbuilder.fieldwidgets": types.SimpleNamespace(
            BS3PasswordFieldWidget=lambda: "password-widget", BS3TextFieldWidget=lambda: "text-widget"
        ),
        "flask_babel": types.SimpleNamespace(lazy_gettext=str),
        "wtforms": types.SimpleNamespace(PasswordField=PasswordField, StringField=Field),
    }
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    return SdrsHook.get_connection_form_widgets()


def test_the_connection_form_declares_every_extra_the_settings_read(monkeypatch):
    from airflow_provider_sdrs._core import settings

    source = inspect.getsource(settings)
    read = set(re.findall(r'extra, "(\w+)"', source)) | set(re.findall(r'extra\.get\("(\w+)"\)', source))
    fields = get_provider_info()["connection-types"][0]["conn-fields"]
    assert len(read) > 10 and read == set(fields)
    assert fields["security_token"]["schema"]["format"] == "password"
    assert fields["proxy"]["schema"]["format"] == "password"
    widgets = _form_widgets(monkeypatch)
    assert set(widgets) == set(fields)
    assert type(widgets["security_token"]).__name__ == "PasswordField" and widgets["region"].widget == "text-widget"
    behaviour = SdrsHook.get_ui_field_behaviour()
    assert set(behaviour) == {"hidden_fields", "relabeling", "placeholders"}
    assert "schema" in behaviour["hidden_fields"] and behaviour["relabeling"]["login"]
    assert "port" not in behaviour["hidden_fields"]  # the UI's Test button needs it (see connection_form)


def test_airflow_sees_the_provider():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-sdrs" in manager.providers
    assert manager.hooks["sdrs"] is not None


def test_operators_and_the_console_link_are_declared():
    from airflow_provider_sdrs.links.sdrs import SdrsConsoleLink
    from airflow_provider_sdrs.operators import sdrs as operators
    from airflow_provider_sdrs.sensors.sdrs import SdrsJobSensor

    info = get_provider_info()
    assert info["operators"][0]["python-modules"] == ["airflow_provider_sdrs.operators.sdrs"]
    (link_path,) = info["extra-links"]
    module, _, name = link_path.rpartition(".")
    assert getattr(import_module(module), name) is SdrsConsoleLink
    assert len(operators.__all__) == 9
    for name in operators.__all__:
        operator_class = getattr(operators, name)
        assert "sdrs_conn_id" in operator_class.template_fields
        assert any(isinstance(link, SdrsConsoleLink) for link in operator_class.operator_extra_links)
    assert any(isinstance(link, SdrsConsoleLink) for link in SdrsJobSensor.operator_extra_links)
