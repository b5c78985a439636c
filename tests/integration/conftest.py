"""Fixtures shared by the integration modules."""

from __future__ import annotations

import pytest

from clusterbench.cluster.lifecycle import state_dir
from tests.helpers import cli


@pytest.fixture()
def down_after(lab):  # noqa: ANN001 - each module's own lab fixture
    """Stop whatever cluster a test brought up, before the module's ``lab`` goes away.

    Modules that start clusters on a lab use it via ``pytest.mark.usefixtures``;
    ``lab`` resolves to the requesting module's fixture.
    """
    yield
    if list(state_dir().glob("cluster-*.json")):
        cli("down")
