"""Every page's view declaration by url path: what `links.restore_once` reads before the page runs.

A page declares its view parameters beside its script (`views/<page>_view.py`); pages without any (Home, Train,
Cross-validation) get an empty view.
"""

from dashboard.links import PageView
from dashboard.views import (
    classroom_view,
    compare_view,
    data_view,
    evaluate_view,
    explain_view,
    inspect_view,
    sweep_view,
)

PAGE_VIEWS: dict[str, PageView] = {
    view.page: view
    for view in (
        data_view.VIEW,
        evaluate_view.VIEW,
        inspect_view.VIEW,
        explain_view.VIEW,
        compare_view.VIEW,
        sweep_view.VIEW,
        classroom_view.VIEW,
    )
}


def view_of(page: str) -> PageView:
    """The view of the page at url path `page` ("" is Home)."""
    return PAGE_VIEWS.get(page) or PageView(page)
