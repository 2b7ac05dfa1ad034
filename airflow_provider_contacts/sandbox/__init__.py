"""Local, stateful emulators of the vendor APIs, served over real HTTP on loopback.

``python -m airflow_provider_contacts.sandbox`` serves them; :class:`SandboxServer` runs them in
a background thread (the pytest fixture in :mod:`airflow_provider_contacts.testing` uses it).
"""

from airflow_provider_contacts.sandbox.server import SandboxServer

__all__ = ["SandboxServer"]
