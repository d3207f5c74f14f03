"""One wheel per test session: built once, read by the contents tests and installed by the
end-to-end ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.package.test_wheel import build


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("wheel"))
