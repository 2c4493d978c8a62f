"""A COS trigger: one record per object event; the key is /appid/bucket/path."""


def main_handler(event, context):
    done = []
    for record in event["Records"]:
        bucket = record["cos"]["cosBucket"]
        obj = record["cos"]["cosObject"]
        path = obj["key"].split("/", 3)[3]
        print(
            "%s %s/%s (%d bytes) in %s"
            % (record["event"]["eventName"], bucket["name"], path, obj["size"], bucket["region"])
        )
        done.append({"bucket": "%s-%s" % (bucket["name"], bucket["appid"]), "key": path, "size": obj["size"]})
    return done
