"""Fixtures shared by the integration modules."""

from __future__ import annotations

import pytest

from tests.helpers import stop_any_cluster


@pytest.fixture()
def down_after(lab):  # noqa: ANN001 - each module's own lab fixture
    """Stop whatever cluster a test brought up, before the module's ``lab`` goes away.

    Modules that start clusters on a lab use it via ``pytest.mark.usefixtures``;
    ``lab`` resolves to the requesting module's fixture.
    """
    yield
    stop_any_cluster()
