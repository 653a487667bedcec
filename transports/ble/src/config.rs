//! How the BLE transport runs: its settings, its limits, and what BlueZ's own settings
//! mean for the device's privacy.

use std::time::Duration;

/// How long one connection attempt may take, service discovery included.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most links we dial and keep open at once.
pub const MAX_CENTRAL_LINKS: usize = 6;
/// The most links centrals may hold to us at once.
pub const MAX_PERIPHERAL_LINKS: usize = 8;

/// Which roles the transport plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Roles {
    /// Scan and connect (btleplug), and advertise and serve (bluer): the normal case.
    Both,
    /// Only scan and connect: nobody can find this device (tests against a mocked BlueZ
    /// that has no GATT server).
    CentralOnly,
}

/// Where BlueZ keeps its settings, among them whether the controller uses private
/// addresses.
pub const BLUEZ_MAIN_CONF: &str = "/etc/bluetooth/main.conf";

/// How the BLE transport runs.
#[derive(Clone, Debug)]
pub struct BleConfig {
    pub(crate) adapter: Option<String>,
    pub(crate) roles: Roles,
    pub(crate) bluez_conf: std::path::PathBuf,
}

impl Default for BleConfig {
    fn default() -> Self {
        BleConfig {
            adapter: None,
            roles: Roles::Both,
            bluez_conf: std::path::PathBuf::from(BLUEZ_MAIN_CONF),
        }
    }
}

impl BleConfig {
    /// The default adapter, both roles.
    pub fn new() -> BleConfig {
        BleConfig::default()
    }

    /// Uses the adapter of this name (`hci1`) rather than the default one.
    #[must_use]
    pub fn with_adapter(mut self, name: &str) -> BleConfig {
        self.adapter = Some(name.to_owned());
        self
    }

    /// Plays only these roles.
    #[must_use]
    pub fn with_roles(mut self, roles: Roles) -> BleConfig {
        self.roles = roles;
        self
    }

    /// Reads BlueZ's settings from `path` rather than [`BLUEZ_MAIN_CONF`] (tests).
    #[must_use]
    pub fn with_bluez_conf(mut self, path: &std::path::Path) -> BleConfig {
        self.bluez_conf = path.to_owned();
        self
    }
}

/// Whether BlueZ settings (`main.conf`) turn private addresses on: `Privacy` in
/// `[General]` set to anything but `off`. Without them the controller advertises its
/// public address, which names the device forever (`spec/ble.md#what-a-bystander-can-and-cannot-learn`).
pub fn uses_private_addresses(main_conf: &str) -> bool {
    let mut general = false;
    let mut private = false;
    for line in main_conf.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            general = section.trim() == "General";
        } else if general
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "Privacy"
        {
            let value = value.trim();
            private = !value.is_empty() && value != "off";
        }
    }
    private
}

/// What the transport should warn of when it advertises: `None` if BlueZ uses private
/// addresses.
pub(crate) async fn address_warning(conf: std::path::PathBuf) -> Option<String> {
    let text = tokio::task::spawn_blocking(move || std::fs::read_to_string(conf))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    (!uses_private_addresses(&text)).then(|| {
        String::from(
            "nearby people can follow this device by its fixed Bluetooth address: set \
             Privacy = device in /etc/bluetooth/main.conf and restart bluetoothd",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_read_from_the_general_section_only() {
        for (conf, private) in [
            ("", false),
            ("[General]\n#Privacy = device\n", false),
            ("[General]\nPrivacy = off\n", false),
            ("[General]\nPrivacy=device\n", true),
            ("[General]\n  Privacy = network \n", true),
            (
                "[General]\nName = x\n\n[GATT]\nCache = no\n[General]\nPrivacy = on\n",
                true,
            ),
            ("[GATT]\nPrivacy = device\n", false),
            ("[General]\nPrivacy = device\nPrivacy = off\n", false),
            ("[General]\nPrivacy =\n", false),
            ("[General]\nprivacy = device\n", false),
        ] {
            assert_eq!(uses_private_addresses(conf), private, "{conf:?}");
        }
    }
}
