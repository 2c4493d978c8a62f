"""Return values of every kind a handler hands back."""

import decimal


def a_dict(event, context):
    return {
        "b": 1,
        "a": [1, 2.5, None, True, False],
        "nested": {"k": "é", "empty": {}, "list": []},
        "tuple": (1, "二"),
        3: "int key",
    }


def a_list(event, context):
    return [1, "x", {"y": None}, [[]], -0.5, 10**20]


def floats(event, context):
    return {"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf"), "big": 1e16, "small": 1e-7}


def scalars(event, context):
    return [True, 42, 3.0, ""]


def decimal_top(event, context):
    return decimal.Decimal("1.50")


def decimal_nested(event, context):
    return {"price": decimal.Decimal("1.50")}


def a_set(event, context):
    return {"tags": {"a"}}


def none(event, context):
    return None


def no_return(event, context):
    print("nothing to return")
