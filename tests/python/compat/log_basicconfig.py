"""logging.basicConfig at import, as many handlers copied from elsewhere do: under SCF's runtime
the root logger already has a handler, so the call changes nothing."""

import logging

logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
logger = logging.getLogger(__name__)


def main_handler(event, context):
    logger.info("x")
    logger.warning("careful")
    root = logging.getLogger()
    return {"root_level": root.level, "root_handlers": len(root.handlers)}
