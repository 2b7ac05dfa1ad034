"""Which Airflow provider package gives the hook of a database connection type, for the error
of a ``source_conn_id`` whose provider is not installed.

Airflow knows the connection types of installed providers only, so the package of a missing one
is derived here: Airflow's provider packages are named ``apache-airflow-providers-<name>``, and
for most database types ``<name>`` is the type itself (``postgres``, ``mysql``, ``oracle``,
``snowflake``, ``trino``...); the types whose provider has another name are listed."""

from __future__ import annotations

PREFIX = "apache-airflow-providers-"
#: connection types whose provider is not named after them (from each provider's provider.yaml)
_OTHER_NAMES = {
    "mssql": "microsoft-mssql",
    "gcpbigquery": "google",
    "gcpcloudsql": "google",
    "gcpcloudsqldb": "google",
    "google_cloud_platform": "google",
    "spanner": "google",
    "redshift": "amazon",
    "athena": "amazon",
    "aws": "amazon",
    "hiveserver2": "apache-hive",
    "hive_cli": "apache-hive",
    "hive_metastore": "apache-hive",
    "impala": "apache-impala",
    "druid": "apache-druid",
    "pinot": "apache-pinot",
    "drill": "apache-drill",
    "kylin": "apache-kylin",
    "azure_synapse": "microsoft-azure",
    "postgresql": "postgres",
}


def provider_package(conn_type: str) -> str:
    """The provider package that gives connection type ``conn_type`` its hook."""
    name = conn_type.strip().lower()
    return PREFIX + _OTHER_NAMES.get(name, name.replace("_", "-"))


def hook_failure(conn_id: str, conn_type: str | None, exc: BaseException) -> str:
    """The message of a ``source_conn_id`` whose connection gives no hook, naming the package."""
    if not conn_type:
        return f"source_conn_id {conn_id!r} has no connection type; set its Connection Type (e.g. postgres)"
    package = provider_package(conn_type)
    if isinstance(exc, ImportError):
        return (
            f"source_conn_id {conn_id!r}: the hook of connection type {conn_type!r} cannot be imported "
            f"({type(exc).__name__}: {exc}); install {package} with its database driver on the workers"
        )
    return (
        f"source_conn_id {conn_id!r} has connection type {conn_type!r}, and no installed provider gives a hook "
        f"for it ({exc}): install {package} on the workers (pip install {package}), the provider "
        "package of that connection type"
    )
