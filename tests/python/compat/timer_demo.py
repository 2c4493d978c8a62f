"""A timer trigger: the event names the trigger, the time it fired and its message."""

import datetime


def main_handler(event, context):
    print("Timer %s fired at %s: %s" % (event["TriggerName"], event["Time"], event["Message"]))
    fired = datetime.datetime.strptime(event["Time"], "%Y-%m-%dT%H:%M:%SZ")
    return {"trigger": event["TriggerName"], "weekday": fired.strftime("%A"), "message": event["Message"]}
