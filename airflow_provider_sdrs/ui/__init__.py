"""Disaster recovery in the Airflow UI: a DR posture page and an "SDRS job" tab on task instances.

The :class:`~airflow_provider_sdrs.ui.plugin.SdrsUiPlugin` registers itself through the provider info, so
installing the provider is enough. Its pages are plain server-rendered HTML: the Airflow UI shows them in a
sandboxed iframe, where scripts do not run.
"""
