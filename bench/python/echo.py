"""The Python echo every Python contestant serves: the event back, as the platform's runtime would."""


def handler(event, context):
    return event
