"""Work done once per instance: a print at import, globals that later invocations reuse."""

print("Loading function")

INVOCATIONS = 0
CACHE = {}


def main_handler(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    was_empty = "value" not in CACHE
    CACHE.setdefault("value", event["value"])
    print("invocation %d" % INVOCATIONS)
    return {"invocations": INVOCATIONS, "cached": CACHE["value"], "cache_was_empty": was_empty}
