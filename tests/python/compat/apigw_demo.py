"""An API gateway trigger: read the request, answer with the integration response."""

import json
import logging

logger = logging.getLogger()


def main_handler(event, context):
    logger.info("start main handler")
    print("%s %s from %s" % (event["httpMethod"], event["path"], event["requestContext"]["sourceIp"]))
    query = event.get("queryString") or {}
    name = query.get("name", "world")
    body = json.loads(event["body"]) if event.get("body") else {}
    html = "<html><body><h1>Hello, %s</h1><p>%d items</p></body></html>" % (name, len(body.get("items", [])))
    return {
        "isBase64Encoded": False,
        "statusCode": 200,
        "headers": {"Content-Type": "text/html"},
        "body": html,
    }
