"""A handler module that imports nothing the runtime might need: the suite checks that serving
JSON events leaves the stdlib json module unimported."""

import sys


def modules(event, context):
    return {
        "json_imported": "json" in sys.modules,
        "event": event,
        "environment": context["environment"],
    }
