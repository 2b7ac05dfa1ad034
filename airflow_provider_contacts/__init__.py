"""Apache Airflow 3 provider for contact and marketing platforms."""

__version__ = "0.2.2"
