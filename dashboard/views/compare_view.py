"""The Compare page's part of the link: the curve metric."""

from dashboard.links import PageView, ViewParam, choice, single

METRICS = ("val_accuracy", "accuracy", "val_loss", "loss")  # the curves Compare can align

VIEW = PageView("compare", (ViewParam("metric", ("compare_metric",), single(choice(METRICS)), (METRICS[0],)),))
