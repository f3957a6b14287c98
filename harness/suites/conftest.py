"""The gate suites: every pytest session over this folder is a gate run (``harness.plugin.activate``)."""

import pytest

from harness.plugin import activate


def pytest_configure(config: pytest.Config) -> None:
    activate(config)
