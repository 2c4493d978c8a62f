"""A job that runs past the function's timeout after saying it started."""

import time


def main_handler(event, context):
    print("job started")
    time.sleep(event["seconds"])
    return "done"
