"""A CMQ topic trigger: print each message, return their ids."""


def main_handler(event, context):
    for record in event["Records"]:
        cmq = record["CMQ"]
        print(
            "%s %s: %s/%s (%s) at %s, tags %s: %s"
            % (
                cmq["type"],
                cmq["msgId"],
                cmq["topicOwner"],
                cmq["topicName"],
                cmq["subscriptionName"],
                cmq["publishTime"],
                cmq["msgTag"],
                cmq["msgBody"],
            )
        )
    return {"received": [r["CMQ"]["msgId"] for r in event["Records"]]}
