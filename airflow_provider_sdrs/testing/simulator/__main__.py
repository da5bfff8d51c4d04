"""``python -m airflow_provider_sdrs.testing.simulator``: see :mod:`.cli`."""

from airflow_provider_sdrs.testing.simulator.cli import main

main()
