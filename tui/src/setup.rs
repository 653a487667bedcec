//! An engine with its transports: which ones the options ask for, and opening the
//! account with them (or offline).

use std::path::{Path, PathBuf};

use bramble_engine::{Engine, EngineError, Mode};
use bramble_store::StoreError;
use thicket_ble::{BleConfig, BleSetup};
use thicket_lan::{LanConfig, LanSetup};
use thicket_tor::{TorConfig, TorSetup};
use thicket_transport::TransportSetup;

use crate::cli::{Global, OnlineArgs};
use crate::failure::Failure;
use crate::password;

/// The transports `thicket run` starts.
#[derive(Clone, Debug)]
pub(crate) struct Online {
    pub(crate) tor: Option<TorConfig>,
    pub(crate) lan: bool,
    pub(crate) ble: Option<BleConfig>,
    /// The folder that carries messages as files.
    pub(crate) files: Option<PathBuf>,
}

/// Opens the account; with transports to start, online.
pub(crate) async fn open_online(
    global: &Global,
    dir: &Path,
    online: Option<Online>,
) -> Result<Engine, Failure> {
    if !bramble_store::exists(dir).map_err(EngineError::Store)? {
        return Err(EngineError::Store(StoreError::NoAccount).into());
    }
    let password = password::read(global, false)?;
    Ok(open_with(dir, &password, online).await?)
}

/// Arti's folder inside the account's.
pub(crate) fn tor_dir(dir: &Path) -> PathBuf {
    dir.join("tor")
}

/// Opens the account. Offline (no `online`), the Tor transport is only built to record
/// our onion address, which handshakes (also by file) publish to new contacts.
pub(crate) async fn open_with(
    dir: &Path,
    password: &str,
    online: Option<Online>,
) -> Result<Engine, EngineError> {
    let Some(online) = online else {
        let tor = TorSetup::new(TorConfig::new(&tor_dir(dir)));
        let setups: Vec<Box<dyn TransportSetup>> = vec![Box::new(tor)];
        return Engine::open_with(dir, password, setups, Mode::Offline).await;
    };
    let mut setups: Vec<Box<dyn TransportSetup>> = Vec::new();
    if let Some(tor) = online.tor {
        setups.push(Box::new(TorSetup::new(tor)));
    }
    if online.lan {
        setups.push(Box::new(LanSetup::new(LanConfig::new())));
    }
    if let Some(ble) = online.ble {
        setups.push(Box::new(BleSetup::new(ble)));
    }
    Engine::open_with(dir, password, setups, Mode::Online).await
}

/// The transports `thicket run` and the interface start.
pub(crate) fn online_of(dir: &Path, args: &OnlineArgs) -> Result<Online, Failure> {
    let mut tor = TorConfig::new(&tor_dir(dir));
    if let Some(path) = &args.tor_config {
        tor = tor.with_overlay_file(path).map_err(|e| e.to_string())?;
    }
    if args.no_tor && !args.lan && !args.ble && args.files.is_none() {
        return Err(Failure::from(String::from(
            "--no-tor needs --lan, --ble or --files: with no transport nothing could carry a message",
        )));
    }
    let ble = args.ble.then(|| match &args.ble_adapter {
        Some(name) => BleConfig::new().with_adapter(name),
        None => BleConfig::new(),
    });
    Ok(Online {
        tor: (!args.no_tor).then_some(tor),
        lan: args.lan,
        ble,
        files: args.files.clone(),
    })
}
