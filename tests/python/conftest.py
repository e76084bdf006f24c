import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from heatutil import AVAILABLE  # noqa: E402


@pytest.fixture(params=AVAILABLE)
def backend(request):
    """Each backend that can run on this machine."""
    return request.param
