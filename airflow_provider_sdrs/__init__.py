"""Apache Airflow provider for the Storage Disaster Recovery Service (SDRS)."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
