"""Settings for the whole test suite.

Hypothesis: tests run on shared, loaded machines (CI, two cores), so no example has a deadline and
a slow input generator is not a failure. What the property tests assert is unchanged.

Async tests (`@pytest.mark.anyio`) run on asyncio, the loop the servers and the env API use.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("codegym", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("codegym")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
