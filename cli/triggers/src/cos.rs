//! The COS trigger's event (docs/triggers.md, "COS").

use serde_json::{Value, json};

/// What a COS event says about the object and the operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosOptions {
    /// The bucket, `NAME-APPID` as COS names it (`examplebucket-1250000000`).
    pub bucket: String,
    /// The object's key, `photos/cat.jpg` (a leading `/` is ignored).
    pub key: String,
    /// The object's size in bytes.
    pub size: u64,
    /// The COS event, `cos:ObjectCreated:Put`, `cos:ObjectRemove:Delete`, ...
    pub event_name: String,
    /// The bucket's region, `ap-guangzhou`.
    pub region: String,
}

impl Default for CosOptions {
    /// A 1024-byte `example.txt` put into `examplebucket-1250000000` in `ap-guangzhou`.
    fn default() -> Self {
        CosOptions {
            bucket: "examplebucket-1250000000".into(),
            key: "example.txt".into(),
            size: 1024,
            event_name: "cos:ObjectCreated:Put".into(),
            region: "ap-guangzhou".into(),
        }
    }
}

/// Why a [`CosOptions`] cannot be an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosError(pub String);

impl std::fmt::Display for CosError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CosError {}

/// `(name, appid)` of a bucket named `NAME-APPID`, the APPID being all digits.
pub fn split_bucket(bucket: &str) -> Option<(&str, &str)> {
    let (name, appid) = bucket.rsplit_once('-')?;
    (!name.is_empty() && !appid.is_empty() && appid.bytes().all(|b| b.is_ascii_digit()))
        .then_some((name, appid))
}

/// The short region name COS events carry in `cosBucket.region` for the regions Tencent's own
/// samples show (`gz`, `bj`, `cd`); other regions keep their full name (docs/triggers.md).
pub fn short_region(region: &str) -> &str {
    match region {
        "ap-guangzhou" => "gz",
        "ap-beijing" => "bj",
        "ap-chengdu" => "cd",
        other => other,
    }
}

/// The event a COS trigger sends for one object: `{"Records": [{"cos": ..., "event": ...}]}`.
pub fn event(opts: &CosOptions) -> Result<Value, CosError> {
    let (name, appid) = split_bucket(&opts.bucket).ok_or_else(|| {
        CosError(format!(
            "bucket `{}` is not NAME-APPID (e.g. examplebucket-1250000000)",
            opts.bucket
        ))
    })?;
    if !opts.event_name.starts_with("cos:") {
        return Err(CosError(format!(
            "event name `{}` is not a COS event (cos:ObjectCreated:Put, cos:ObjectRemove:Delete, ...)",
            opts.event_name
        )));
    }
    let key = opts.key.trim_start_matches('/');
    let short = short_region(&opts.region);
    let id = uuid::Uuid::new_v4();
    let reqid = u64::from(u32::from_be_bytes([
        id.as_bytes()[0],
        id.as_bytes()[1],
        id.as_bytes()[2],
        id.as_bytes()[3],
    ]));
    let request_id = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(id.simple().to_string())
    };
    Ok(json!({
        "Records": [{
            "cos": {
                "cosSchemaVersion": "1.0",
                "cosObject": {
                    "url": format!("http://{}.cos.{}.myqcloud.com/{key}", opts.bucket, opts.region),
                    "meta": {
                        "x-cos-request-id": request_id,
                        "Content-Type": "",
                    },
                    "vid": "",
                    "key": format!("/{appid}/{name}/{key}"),
                    "size": opts.size,
                },
                "cosBucket": {
                    "region": short,
                    "name": name,
                    "appid": appid,
                },
                "cosNotificationId": "unkown",
            },
            "event": {
                "eventName": opts.event_name,
                "eventVersion": "1.0",
                "eventTime": crate::unix_now(),
                "eventSource": "qcs::cos",
                "requestParameters": {
                    "requestSourceIP": "127.0.0.1",
                    "requestHeaders": { "Authorization": "" },
                },
                "eventQueue": format!("qcs:0:lambda:{short}:appid/{appid}:default.scfrt-local.$LATEST"),
                "reservedInfo": "",
                "reqid": reqid,
            },
        }]
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        assert_eq!(split_bucket("a-b-125"), Some(("a-b", "125")));
        assert_eq!(split_bucket("nobucket"), None);
        assert_eq!(split_bucket("x-12a"), None);
        assert_eq!(split_bucket("-125"), None);
    }

    #[test]
    fn object_key_and_url() {
        let ev = event(&CosOptions {
            key: "/dir/a.jpg".into(),
            ..CosOptions::default()
        })
        .unwrap();
        let cos = &ev["Records"][0]["cos"];
        assert_eq!(
            cos["cosObject"]["key"],
            "/1250000000/examplebucket/dir/a.jpg"
        );
        assert_eq!(
            cos["cosObject"]["url"],
            "http://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/dir/a.jpg"
        );
        assert_eq!(cos["cosBucket"]["region"], "gz");
    }
}
