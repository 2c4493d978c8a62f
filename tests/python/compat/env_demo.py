"""Reads the function's configuration from the environment, as the environment variable guide
shows."""

import os


def main_handler(event, context):
    return {
        "namespace": os.environ.get("SCF_NAMESPACE"),
        "greeting": os.environ.get("GREETING"),
        "region": os.environ.get("TENCENTCLOUD_REGION"),
        "function": os.environ.get("SCF_FUNCTIONNAME"),
        "unset": os.environ.get("NOT_SET_ANYWHERE", "fallback"),
        "context_region": context["tencentcloud_region"],
    }
