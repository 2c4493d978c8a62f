//! The function metadata and credentials an image-mode event carries in its `X-Scf-*` headers.

/// One metadata field under its three names: the friendly name (the key of the built-in Python
/// runtime's `context` dict where it has one), the image-mode request header, and the
/// environment variable SCF sets for a code package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetadataField {
    /// The friendly name, e.g. `function_name`.
    pub name: &'static str,
    /// The header of `POST /event-invoke`, e.g. `X-Scf-Name`.
    pub header: &'static str,
    /// The environment variable of a code package, e.g. `SCF_FUNCTIONNAME`.
    pub env: &'static str,
}

const fn field(name: &'static str, header: &'static str, env: &'static str) -> MetadataField {
    MetadataField { name, header, env }
}

/// Every field of [`FunctionMetadata`], in its declaration order (docs/platform.md section 6; the
/// request id, memory and timeout headers are the `Invocation`'s own fields).
pub const METADATA_FIELDS: [MetadataField; 10] = [
    field("function_name", "X-Scf-Name", "SCF_FUNCTIONNAME"),
    field("function_version", "X-Scf-Version", "SCF_FUNCTIONVERSION"),
    field("namespace", "X-Scf-Namespace", "SCF_NAMESPACE"),
    field("tencentcloud_region", "X-Scf-Region", "TENCENTCLOUD_REGION"),
    field("tencentcloud_appid", "X-Scf-Appid", "TENCENTCLOUD_APPID"),
    field("tencentcloud_uin", "X-Scf-Uin", "TENCENTCLOUD_UIN"),
    field("secret_id", "X-Scf-Secret-Id", "TENCENTCLOUD_SECRETID"),
    field("secret_key", "X-Scf-Secret-Key", "TENCENTCLOUD_SECRETKEY"),
    field(
        "session_token",
        "X-Scf-Session-Token",
        "TENCENTCLOUD_SESSIONTOKEN",
    ),
    field("trigger_src", "X-Scf-Trigger-Src", "TRIGGER_SRC"),
];

impl MetadataField {
    /// The field called `name`: its friendly name, its environment variable (both exact), or
    /// its header (any case). `None` for any other name.
    pub fn find(name: &str) -> Option<(usize, &'static MetadataField)> {
        METADATA_FIELDS
            .iter()
            .enumerate()
            .find(|(_, f)| f.name == name || f.env == name || f.header.eq_ignore_ascii_case(name))
    }
}

/// The function's identity, account, temporary role credentials and trigger source.
///
/// In runtime-API mode SCF puts them in the process environment, read once into
/// [`Config::metadata`](crate::Config::metadata) ([`FunctionMetadata::from_env`]); an
/// image-mode event brings its own in `X-Scf-*` headers (`Invocation::metadata`,
/// [`FunctionMetadata::from_headers`]). An absent or empty value is `None`. The `Debug` output
/// hides the credentials.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FunctionMetadata {
    /// `X-Scf-Name` / `SCF_FUNCTIONNAME`: the function name.
    pub function_name: Option<String>,
    /// `X-Scf-Version` / `SCF_FUNCTIONVERSION`: `$LATEST` or a version number.
    pub function_version: Option<String>,
    /// `X-Scf-Namespace` / `SCF_NAMESPACE`, e.g. `default`.
    pub namespace: Option<String>,
    /// `X-Scf-Region` / `TENCENTCLOUD_REGION`, e.g. `ap-guangzhou`.
    pub region: Option<String>,
    /// `X-Scf-Appid` / `TENCENTCLOUD_APPID`: the account's APPID.
    pub appid: Option<String>,
    /// `X-Scf-Uin` / `TENCENTCLOUD_UIN`: the account's UIN.
    pub uin: Option<String>,
    /// `X-Scf-Secret-Id` / `TENCENTCLOUD_SECRETID`: temporary role credential.
    pub secret_id: Option<String>,
    /// `X-Scf-Secret-Key` / `TENCENTCLOUD_SECRETKEY`: temporary role credential.
    pub secret_key: Option<String>,
    /// `X-Scf-Session-Token` / `TENCENTCLOUD_SESSIONTOKEN`: temporary role credential.
    pub session_token: Option<String>,
    /// `X-Scf-Trigger-Src` / `TRIGGER_SRC`: what triggered the event, e.g. `timer`.
    pub trigger_src: Option<String>,
}

impl std::fmt::Debug for FunctionMetadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "<hidden>");
        f.debug_struct("FunctionMetadata")
            .field("function_name", &self.function_name)
            .field("function_version", &self.function_version)
            .field("namespace", &self.namespace)
            .field("region", &self.region)
            .field("appid", &self.appid)
            .field("uin", &self.uin)
            .field("secret_id", &hidden(&self.secret_id))
            .field("secret_key", &hidden(&self.secret_key))
            .field("session_token", &hidden(&self.session_token))
            .field("trigger_src", &self.trigger_src)
            .finish()
    }
}

impl FunctionMetadata {
    /// The fields in [`METADATA_FIELDS`] order.
    fn slots(&self) -> [&Option<String>; 10] {
        [
            &self.function_name,
            &self.function_version,
            &self.namespace,
            &self.region,
            &self.appid,
            &self.uin,
            &self.secret_id,
            &self.secret_key,
            &self.session_token,
            &self.trigger_src,
        ]
    }

    fn slots_mut(&mut self) -> [&mut Option<String>; 10] {
        [
            &mut self.function_name,
            &mut self.function_version,
            &mut self.namespace,
            &mut self.region,
            &mut self.appid,
            &mut self.uin,
            &mut self.secret_id,
            &mut self.secret_key,
            &mut self.session_token,
            &mut self.trigger_src,
        ]
    }

    /// Build the metadata from the headers `header` returns by name (any of
    /// [`MetadataField::header`]); `None` and empty values leave a field unset.
    pub fn from_headers(header: impl Fn(&str) -> Option<String>) -> FunctionMetadata {
        Self::from_fields(|f| header(f.header))
    }

    /// Build the metadata from the environment variables `var` returns by name (any of
    /// [`MetadataField::env`]), as SCF sets them for a code package; `None` and empty values
    /// leave a field unset.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> FunctionMetadata {
        Self::from_fields(|f| var(f.env))
    }

    fn from_fields(value: impl Fn(&MetadataField) -> Option<String>) -> FunctionMetadata {
        let mut m = FunctionMetadata::default();
        for (slot, f) in m.slots_mut().into_iter().zip(METADATA_FIELDS.iter()) {
            *slot = value(f).filter(|v| !v.is_empty());
        }
        m
    }

    /// The value of the field called `name` (see [`MetadataField::find`]): `None` when the
    /// name is unknown or the field unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        let (index, _) = MetadataField::find(name)?;
        self.slots()[index].as_deref()
    }

    /// Every field with its value, in [`METADATA_FIELDS`] order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static MetadataField, Option<&str>)> {
        METADATA_FIELDS
            .iter()
            .zip(self.slots())
            .map(|(f, v)| (f, v.as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_found_by_each_of_its_names() {
        let m = FunctionMetadata::from_headers(|h| Some(format!("v:{h}")));
        for (i, f) in METADATA_FIELDS.iter().enumerate() {
            let want = format!("v:{}", f.header);
            assert_eq!(MetadataField::find(f.name).map(|x| x.0), Some(i));
            assert_eq!(m.get(f.name), Some(want.as_str()));
            assert_eq!(m.get(f.env), Some(want.as_str()));
            assert_eq!(m.get(&f.header.to_ascii_lowercase()), Some(want.as_str()));
        }
        assert_eq!(m.get("X-Scf-Request-Id"), None);
        assert_eq!(m.get("FUNCTION_NAME"), None);
        assert_eq!(m.iter().count(), 10);
    }

    #[test]
    fn empty_headers_are_unset_and_debug_hides_credentials() {
        let m = FunctionMetadata::from_headers(|h| match h {
            "X-Scf-Name" => Some("fn".into()),
            "X-Scf-Secret-Key" => Some("sk-value-7".into()),
            "X-Scf-Namespace" => Some(String::new()),
            _ => None,
        });
        assert_eq!(m.function_name.as_deref(), Some("fn"));
        assert_eq!(m.namespace, None);
        let dbg = format!("{m:?}");
        assert!(
            !dbg.contains("sk-value-7") && dbg.contains("<hidden>"),
            "{dbg}"
        );
    }
}
