//! Reading and writing `spec/vectors/*.json`.

use std::path::PathBuf;

use serde_json::Value;

/// The `spec/vectors` directory of this checkout.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors")
}

/// Parses one vector file by name, e.g. `"stream.json"`.
pub fn load(name: &str) -> Value {
    let path = dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// The canonical text of a vector file: pretty JSON with a final newline.
pub fn render(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values always render");
    text.push('\n');
    text
}

/// Hex-decodes a JSON string.
pub fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

/// Hex-decodes a JSON string of exactly `N` bytes.
pub fn array<const N: usize>(v: &Value) -> [u8; N] {
    bytes(v).try_into().expect("hex of the right length")
}

/// A JSON string as `&str`.
pub fn str(v: &Value) -> &str {
    v.as_str().expect("string")
}

/// A JSON number as `u64`.
pub fn u64(v: &Value) -> u64 {
    v.as_u64().expect("unsigned integer")
}
