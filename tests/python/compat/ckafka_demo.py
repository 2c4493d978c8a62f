"""A CKafka trigger: one event carries a batch of messages."""


def main_handler(event, context):
    for record in event["Records"]:
        msg = record["Ckafka"]
        print(
            "topic=%s partition=%d offset=%d key=%s"
            % (msg["topic"], msg["partition"], msg["offset"], msg["msgKey"])
        )
        print("body: " + msg["msgBody"])
    return "Successfully processed %d records." % len(event["Records"])
