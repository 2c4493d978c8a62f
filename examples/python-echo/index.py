"""An SCF Python handler, unchanged from what the built-in Python runtime runs."""

import logging

logger = logging.getLogger(__name__)


def main_handler(event, context):
    logger.warning("echo for %s", context["request_id"])
    print("event:", event)
    return {"echo": event, "request_id": context["request_id"]}
