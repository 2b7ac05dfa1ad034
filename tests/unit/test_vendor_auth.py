"""The Dmartech signature against the vector its documentation gives."""

from __future__ import annotations

from airflow_provider_contacts.hooks.dmartech_auth import sign
from airflow_provider_contacts.sandbox.vendors.dmartech import verify_signature


def test_dmartech_signature_matches_the_documented_vector():
    assert sign("0123456789abcdef", 1632218400000) == "Rc8XKfVO2WHRqyHz5ExVfA%3D%3D"
    assert verify_signature("Rc8XKfVO2WHRqyHz5ExVfA%3D%3D", "0123456789abcdef", 1632218400000)
    assert verify_signature("Rc8XKfVO2WHRqyHz5ExVfA==", "0123456789abcdef", 1632218400000)  # raw form too
    assert not verify_signature("Rc8XKfVO2WHRqyHz5ExVfA%3D%3D", "0123456789abcdef", 1632218400000 + 300_001)
    assert not verify_signature("garbage", "0123456789abcdef", 1632218400000)
