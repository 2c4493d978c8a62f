"""A module logger (`getLogger(__name__)`) without any set-up: every level reaches the log."""

import logging

logger = logging.getLogger(__name__)


def main_handler(event, context):
    logger.debug("debug line")
    logger.info("info line")
    logger.warning("warning line")
    logger.error("error line in %s", context["function_name"])
    return {"effective_level": logger.getEffectiveLevel()}
