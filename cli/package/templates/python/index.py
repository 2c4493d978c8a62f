"""An SCF function in Python, written exactly as for SCF's built-in Python runtime."""


def main_handler(event, context):
    print("request", context["request_id"], "from", context["function_name"])
    return {"echo": event}
