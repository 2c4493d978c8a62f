def handler(event, context):
    return {"from": "sub/mod", "event": event}
