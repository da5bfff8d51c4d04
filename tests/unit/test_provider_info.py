from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points

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


def test_connection_form_declares_every_extra_the_hook_reads():
    from airflow_provider_sdrs._core.settings import _KNOWN_EXTRAS

    fields = get_provider_info()["connection-types"][0]["conn-fields"]
    assert set(fields) == set(_KNOWN_EXTRAS)
    assert fields["security_token"]["schema"]["format"] == "password"
    behaviour = SdrsHook.get_ui_field_behaviour()
    assert set(behaviour) == {"hidden_fields", "relabeling", "placeholders"}
    assert "schema" in behaviour["hidden_fields"] and behaviour["relabeling"]["login"]
    assert "port" not in behaviour["hidden_fields"]  # the UI's Test button needs it (see get_provider_info)


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
