"""skewaudit's one Kubernetes quantity parser, checked against the ``kubernetes`` client's on a table of cases."""

from __future__ import annotations

from decimal import Decimal

import pytest
from kubernetes.utils.quantity import parse_quantity as k8s_parse_quantity

from skewaudit import units

VALID = ["0", "1", "4", "16", "+2", "-1", "0.5", ".5", "1.", "500m", "250u", "7n", "1k", "32M", "80G", "2T", "1P",
         "1E", "80Gi", "128Mi", "1Ki", "3Ti", "1Pi", "1Ei", "1e3", "1E3", "2.5e-3", "1.5Gi", "100", 4, 0, 1.5]
INVALID = ["abc", "", " ", "1 Gi", "1_000", "1gi", "1ki", "1KB", "Gi", "1.2.3", "0x10", "--1", "nan", "NaN", "inf",
           "-inf", "Infinity", "1e999", "1e99999999999", "9223372036854775808", float("nan"), float("inf"), True,
           "4\n5"]
# The kubernetes client accepts these (Decimal does), the API server does not: skewaudit is stricter.
K8S_CLIENT_LAX = {"1 Gi", "1_000", "nan", "NaN", "inf", "-inf", "Infinity", "1e999", "1e99999999999", "9223372036854775808", True}


@pytest.mark.parametrize("q", VALID, ids=repr)
def test_valid_quantities_agree_with_the_kubernetes_client(q):
    assert units.parse_quantity(q) == k8s_parse_quantity(q)


@pytest.mark.parametrize("q", INVALID, ids=repr)
def test_invalid_quantities_are_refused(q):
    with pytest.raises(ValueError, match="not a|beyond any sane value"):
        units.parse_quantity(q)
    if not isinstance(q, float) and q not in K8S_CLIENT_LAX:
        with pytest.raises(ValueError):
            k8s_parse_quantity(q)


@pytest.mark.parametrize("q,n", [("4", 4), (8, 8), ("0", 0), ("1k", 1000), (4.0, 4), ("2e1", 20)])
def test_gpu_counts(q, n):
    assert units.gpu_count(q) == n


@pytest.mark.parametrize("q", ["500m", "1.5", 0.5, "-1", "abc", "", "nan", "inf", "1e999"], ids=repr)
def test_a_non_integral_or_negative_device_count_is_refused(q):
    with pytest.raises(ValueError, match="not a|beyond any sane value"):
        units.gpu_count(q)


def test_the_bound_is_the_api_servers():
    assert units.parse_quantity("9223372036854775807") == Decimal(2**63 - 1)
