"""Schemathesis hooks for the Sagaflow API (README, "Checked from outside").

OpenAPI 3.0 cannot say that one field must differ from, or be at least, another. The API
answers such requests with a 400 naming the field; these hooks keep schemathesis from
sending them as *valid* requests (where a 400 fails `positive_data_acceptance`). Negative
cases are left alone: the API must still refuse them.

    SCHEMATHESIS_HOOKS=scripts/schemathesis/hooks.py schemathesis run ...
"""

import schemathesis


def _positive(case) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


@schemathesis.hook("filter_case").apply_to(method="POST", path="/transfers")
def transfer_between_two_accounts(context, case) -> bool:
    """POST /transfers: toAccountId must differ from fromAccountId (400 SAME_ACCOUNT)."""
    body = case.body
    if not _positive(case) or not isinstance(body, dict):
        return True
    return body.get("fromAccountId") != body.get("toAccountId")


@schemathesis.hook("filter_case").apply_to(method="GET", path="/streams/{streamId}/events")
def version_range_in_order(context, case) -> bool:
    """GET /streams/{streamId}/events: toVersion must be >= fromVersion (400 VALIDATION)."""
    query = case.query
    if not _positive(case) or not isinstance(query, dict):
        return True
    try:
        return int(query["toVersion"]) >= int(query.get("fromVersion", 1))
    except (KeyError, TypeError, ValueError):
        return True


@schemathesis.hook("filter_case").apply_to(method="POST", path="/orders")
def one_line_per_sku(context, case) -> bool:
    """POST /orders: no SKU on two lines (400 naming items[n].sku); uniqueItems cannot say it."""
    body = case.body
    if not _positive(case) or not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return True
    skus = [item.get("sku") for item in body["items"] if isinstance(item, dict)]
    return len(skus) == len(set(skus))
