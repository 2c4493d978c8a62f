"""Handlers that fail: a plain exception (the development guide's example), an exception raised
from another, and one raised while handling another."""


def main_handler(event, context):
    print("about to fail")
    raise Exception("err msg")


def load_config(event):
    if "config" not in event:
        raise KeyError("config")
    return event["config"]


def chained(event, context):
    try:
        load_config(event)
    except KeyError as e:
        raise RuntimeError("cannot start: no config") from e


def during_handling(event, context):
    try:
        raise KeyError("missing")
    except KeyError:
        raise ValueError("bad event: 坏")
