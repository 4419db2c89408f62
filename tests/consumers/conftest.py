import pytest


@pytest.fixture(autouse=True)
def _fresh_live_pages():
    """The live pages this process rendered (consumers.views.pages) outlive a test's
    database, as the snapshot cache does (see the root conftest)."""
    from consumers.views import pages

    pages.clear()
    yield
