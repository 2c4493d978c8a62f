"""An SCF Python handler behind API Gateway (integrated responses on): the same API as
examples/apigw-rust, for SCF's built-in Python runtime or scfruntime's (docs/events.md).

- GET /hello?name=Ada  -> 200 {"message": "hello, Ada"} (name defaults to "world")
- POST /echo           -> 200 with the request's body and Content-Type
- anything else        -> 404 {"error": "no route for <METHOD> <path>"}
"""

import json


def _response(status, body, content_type, is_base64=False):
    return {
        "isBase64Encoded": is_base64,
        "statusCode": status,
        "headers": {"Content-Type": content_type},
        "body": body,
    }


def _json(status, value):
    return _response(status, json.dumps(value, ensure_ascii=False, separators=(",", ":")),
                     "application/json")


def _header(event, name):
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name.lower():
            return value[0] if isinstance(value, list) and value else value
    return None


def _query(event, name):
    value = (event.get("queryString") or {}).get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None else str(value)


def main_handler(event, context):
    event = event if isinstance(event, dict) else {}
    method = str(event.get("httpMethod") or "").upper()
    path = str(event.get("path") or "")
    route = path.rstrip("/") or "/"
    print("apigw-python: %s %s (request %s)" % (method, path, context["request_id"]))
    if method == "GET" and route == "/hello":
        return _json(200, {"message": "hello, %s" % (_query(event, "name") or "world")})
    if method == "POST" and route == "/echo":
        content_type = _header(event, "content-type") or "application/octet-stream"
        return _response(200, event.get("body") or "", content_type,
                         bool(event.get("isBase64Encoded")))
    return _json(404, {"error": "no route for %s %s" % (method, path)})
