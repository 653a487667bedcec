//! Arti's configuration for an account: our storage settings, the real Tor network by
//! default, and an optional overlay file (`--tor-config`) for bridges or another network.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use arti_client::TorClientConfig;
use arti_client::config::{CfgPath, TorClientConfigBuilder};

/// What is wrong with a Tor configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The overlay file could not be read.
    #[error("cannot read the Tor configuration {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The overlay file is not TOML.
    #[error("the Tor configuration {path} is not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The overlay names options arti does not have (a typo would otherwise be ignored,
    /// and a mistyped bridge line would silently connect without the bridge).
    #[error("the Tor configuration {path} has unknown options: {}", .keys.join(", "))]
    Unknown {
        /// The file.
        path: PathBuf,
        /// The options, as dotted paths.
        keys: Vec<String>,
    },
    /// The overlay sets something Thicket decides.
    #[error(
        "the Tor configuration {path} sets {key}, which Thicket decides (Tor's state lives in the account folder and onion keys only in the encrypted store)"
    )]
    Reserved {
        /// The file.
        path: PathBuf,
        /// The option.
        key: &'static str,
    },
    /// Arti refused the configuration.
    #[error("the Tor configuration{} is not usable: {message}", .path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Invalid {
        /// The file, if an overlay was given.
        path: Option<PathBuf>,
        /// Arti's message.
        message: String,
    },
}

/// Options of the `[storage]` table that Thicket sets itself.
const RESERVED: [(&str, &str); 3] = [
    ("state_dir", "storage.state_dir"),
    ("cache_dir", "storage.cache_dir"),
    ("keystore", "storage.keystore"),
];

/// How arti is configured for one account.
#[derive(Clone, Debug)]
pub struct TorConfig {
    root: PathBuf,
    overlay: Option<(PathBuf, toml::Table)>,
}

impl TorConfig {
    /// The real Tor network, with arti's state and cache in `root` (a folder inside the
    /// account's).
    pub fn new(root: &Path) -> TorConfig {
        TorConfig {
            root: root.to_owned(),
            overlay: None,
        }
    }

    /// Adds an arti TOML overlay (the format of arti's own configuration file): bridges,
    /// another network's authorities, anything but storage, which Thicket decides.
    /// The file is checked at once.
    ///
    /// # Errors
    /// Unreadable, not TOML, unknown options, reserved options, or refused by arti.
    pub fn with_overlay_file(mut self, path: &Path) -> Result<TorConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax {
                    path: path.to_owned(),
                    message: e.message().to_owned(),
                })?;
        if let Some(storage) = table.get("storage").and_then(toml::Value::as_table) {
            for (key, name) in RESERVED {
                if storage.contains_key(key) {
                    return Err(ConfigError::Reserved {
                        path: path.to_owned(),
                        key: name,
                    });
                }
            }
        }
        self.overlay = Some((path.to_owned(), table));
        self.build()?;
        Ok(self)
    }

    /// Where arti keeps its state (guards, onion-service records; never keys).
    pub fn state_dir(&self) -> PathBuf {
        self.root.join("state")
    }

    /// Where arti caches the directory.
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }

    /// The arti configuration.
    ///
    /// # Errors
    /// Unknown options or a configuration arti refuses.
    pub fn build(&self) -> Result<TorClientConfig, ConfigError> {
        let path = self.overlay.as_ref().map(|(p, _)| p.clone());
        let mut table = self
            .overlay
            .as_ref()
            .map(|(_, t)| t.clone())
            .unwrap_or_default();
        // Onion keys live in memory only: ours come from the encrypted store at each
        // launch; the ones arti makes (intro points, descriptor signing) die with the
        // process.
        let storage = table
            .entry("storage")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(storage) = storage.as_table_mut() else {
            return Err(ConfigError::Invalid {
                path,
                message: String::from("`storage` must be a table"),
            });
        };
        let mut keystore = toml::Table::new();
        keystore.insert(String::from("enabled"), toml::Value::Boolean(true));
        let mut primary = toml::Table::new();
        primary.insert(
            String::from("kind"),
            toml::Value::String("ephemeral".into()),
        );
        keystore.insert(String::from("primary"), toml::Value::Table(primary));
        storage.insert(String::from("keystore"), toml::Value::Table(keystore));

        let mut unknown = Vec::new();
        let builder: Result<TorClientConfigBuilder, _> =
            serde_ignored::deserialize(toml::Value::Table(table), |p| {
                unknown.push(p.to_string());
            });
        let mut builder = builder.map_err(|e| ConfigError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if !unknown.is_empty() {
            return Err(ConfigError::Unknown {
                path: path.unwrap_or_default(),
                keys: unknown,
            });
        }
        builder
            .storage()
            .state_dir(CfgPath::new_literal(self.state_dir()))
            .cache_dir(CfgPath::new_literal(self.cache_dir()));
        builder.build().map_err(|e| {
            let mut message = e.to_string();
            if let Some(source) = std::error::Error::source(&e) {
                let _ = write!(message, ": {source}");
            }
            ConfigError::Invalid { path, message }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn overlay(text: &str) -> Result<TorConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tor.toml");
        std::fs::write(&path, text).unwrap();
        TorConfig::new(&dir.path().join("tor")).with_overlay_file(&path)
    }

    #[test]
    fn the_default_is_the_real_network_with_state_in_the_account() {
        let config = TorConfig::new(Path::new("/accounts/a/tor"));
        config.build().unwrap();
        assert_eq!(config.state_dir(), Path::new("/accounts/a/tor/state"));
    }

    #[test]
    fn bad_overlays_are_refused_with_the_reason() {
        let e = overlay("[tor_network\n").unwrap_err();
        assert!(matches!(e, ConfigError::Syntax { .. }), "{e}");
        let e = overlay("[bridgez]\nenabled = true\n").unwrap_err();
        assert!(e.to_string().contains("unknown options: bridgez"), "{e}");
        let e = overlay("[path_rules]\nipv4_subnet_family_prefixx = 33\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("path_rules.ipv4_subnet_family_prefixx"),
            "{e}"
        );
        let e = overlay("[storage]\nstate_dir = \"/tmp/x\"\n").unwrap_err();
        assert!(e.to_string().contains("storage.state_dir"), "{e}");
        let e = overlay("[storage.keystore]\nenabled = false\n").unwrap_err();
        assert!(e.to_string().contains("storage.keystore"), "{e}");
        let e = overlay("[path_rules]\nipv4_subnet_family_prefix = \"wide\"\n").unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { .. }), "{e}");
        // Authorities without fallbacks: arti's own consistency check.
        let e = overlay("[tor_network.authorities]\nv3idents = [\"0000000000000000000000000000000000000000\"]\n")
            .unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { .. }), "{e}");
        let e = TorConfig::new(Path::new("/x"))
            .with_overlay_file(Path::new("/nonexistent/tor.toml"))
            .unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }), "{e}");
    }

    #[test]
    fn bridges_are_taken_and_a_bad_bridge_line_is_refused() {
        overlay(
            "[bridges]\nenabled = true\nbridges = [\"192.0.2.1:443 0123456789ABCDEF0123456789ABCDEF01234567\"]\n",
        )
        .unwrap();
        overlay(
            "[bridges]\nenabled = true\nbridges = [\"obfs4 192.0.2.1:443 0123456789ABCDEF0123456789ABCDEF01234567 cert=abc iat-mode=0\"]\n[[bridges.transports]]\nprotocols = [\"obfs4\"]\npath = \"/usr/bin/obfs4proxy\"\n",
        )
        .unwrap();
        let e = overlay("[bridges]\nenabled = true\nbridges = [\"not a bridge\"]\n").unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { .. }), "{e}");
    }

    #[test]
    fn a_good_overlay_is_taken() {
        overlay("[path_rules]\nipv4_subnet_family_prefix = 33\nipv6_subnet_family_prefix = 129\n[storage.permissions]\ndangerously_trust_everyone = true\n")
            .unwrap();
    }
}
