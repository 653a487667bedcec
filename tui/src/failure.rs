//! What the user is told when a command fails.

use bramble_engine::EngineError;
use bramble_store::StoreError;

/// An error for the user: what went wrong, in words.
#[derive(Debug)]
pub(crate) struct Failure(pub(crate) String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for Failure {
    fn from(s: String) -> Self {
        Failure(s)
    }
}

impl From<&str> for Failure {
    fn from(s: &str) -> Self {
        Failure(s.to_owned())
    }
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        Failure(match e {
            EngineError::Store(StoreError::NoAccount) => String::from(
                "no account here: create one with `thicket init --name NAME`, or run `thicket` in a terminal",
            ),
            EngineError::Store(StoreError::InvalidInput(why)) => why.to_owned(),
            e => e.to_string(),
        })
    }
}
