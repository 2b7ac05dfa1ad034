"""The Mautic hook (:class:`airflow_provider_contacts.hooks.mautic.hook.MauticHook`) and its parts."""
