"""The root logger without any set-up, as the API gateway demo uses it."""

import logging

logger = logging.getLogger()


def main_handler(event, context):
    logger.info("start main handler")
    logger.debug("event has %d keys", len(event))
    logging.warning("via the logging module: %s", event["name"])
    return "logged"
