"""Prints the context, as the "基本概念" page does, and uses it as the dict it is."""

import json


def main_handler(event, context):
    print(context)
    return {
        "is_dict": isinstance(context, dict),
        "json": json.dumps(context),
        "keys": list(context),
        "equal_to_its_copy": context == dict(context),
        "request_id": context["request_id"],
    }
