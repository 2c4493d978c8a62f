"""The hello-world template: print the event, return a string."""

import json


def main_handler(event, context):
    print("Received event: " + json.dumps(event, indent=2))
    print("Hello world")
    return "Hello World"


def chinese(event, context):
    return "你好，世界"


def escapes(event, context):
    return 'She said "hi"\n\tthen left \\ é'
