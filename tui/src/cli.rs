//! The command line: subcommands, options and where the account lives by default.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Thicket: a messenger that keeps working when the internet does not.
#[derive(Debug, Parser)]
#[command(name = "thicket", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    /// Without a command: the terminal interface (`thicket ui`).
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

#[derive(Debug, Args)]
pub(crate) struct Global {
    /// The account's folder [default: $XDG_DATA_HOME/thicket, else ~/.local/share/thicket].
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Read the password from this file (its first line) instead of asking.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        conflicts_with = "password_fd"
    )]
    pub(crate) password_file: Option<PathBuf>,
    /// Read the password from this open file descriptor (its first line) instead of asking.
    #[arg(long, global = true, value_name = "FD")]
    pub(crate) password_fd: Option<u32>,
}

/// Which transports go online.
#[derive(Debug, Default, Args)]
pub(crate) struct OnlineArgs {
    /// An arti configuration file (TOML) to use bridges or another Tor network.
    #[arg(long, value_name = "FILE", conflicts_with = "no_tor")]
    pub(crate) tor_config: Option<PathBuf>,
    /// Also reach contacts on the local network (Wi-Fi, Ethernet) with no internet.
    /// Announces on that network that a Thicket device is present, under names
    /// only contacts can recognise.
    #[arg(long)]
    pub(crate) lan: bool,
    /// Also reach contacts nearby over Bluetooth LE, with no network at all. Advertises
    /// one random-looking value at a time, which only contacts can recognise.
    #[arg(long)]
    pub(crate) ble: bool,
    /// The Bluetooth adapter to use (`hci1`; default: the first).
    #[arg(long, value_name = "NAME", requires = "ble")]
    pub(crate) ble_adapter: Option<String>,
    /// Do not use Tor (with `--lan` or `--ble`: only nearby devices).
    #[arg(long)]
    pub(crate) no_tor: bool,
    /// Also carry messages as files in this folder, for example on a USB stick that
    /// goes from hand to hand: Thicket reads the Thicket files in it and writes there
    /// what contacts should receive, whenever it appears and when asked (`f` in the
    /// interface, `sync` in `run`).
    #[arg(long, value_name = "DIR")]
    pub(crate) files: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// The terminal interface (the default): contacts, conversations, transports.
    /// Online over Tor, and the local network with `--lan`.
    Ui {
        #[command(flatten)]
        online: OnlineArgs,
        /// Ring the terminal bell when a message arrives.
        #[arg(long)]
        bell: bool,
    },
    /// Create an account.
    Init {
        /// The name your contacts will see (they can rename you for themselves).
        #[arg(long)]
        name: String,
    },
    /// Print your link, to give to people who want to add you.
    Link,
    /// Add someone by their link. They must add yours too.
    Add {
        /// Their link (thicket://…).
        link: String,
        /// What to call them.
        #[arg(long)]
        name: String,
    },
    /// List your contacts.
    Contacts,
    /// List links you added whose handshake has not completed.
    Pending,
    /// Queue a message to a contact; it leaves with the next transport or export.
    Send {
        /// The contact.
        name: String,
        /// The message (several words are joined with spaces).
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
    },
    /// Show the conversation with a contact and mark it read.
    Read {
        /// The contact.
        name: String,
        /// How many of the latest messages to show.
        #[arg(long, default_value_t = 50)]
        last: usize,
    },
    /// Show the safety number of you and a contact, to compare in person or by phone.
    Verify {
        /// The contact.
        name: String,
        /// The numbers matched: mark the contact verified.
        #[arg(long, conflicts_with = "unverify")]
        confirm: bool,
        /// Mark the contact unverified again.
        #[arg(long)]
        unverify: bool,
    },
    /// Write what a contact (or pending contact) should receive as files into a folder,
    /// for example on a USB stick.
    Export {
        /// The contact or pending contact.
        name: String,
        /// The folder to write into (created if missing).
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
    },
    /// Read every Thicket file in a folder.
    Import {
        /// The folder.
        dir: PathBuf,
    },
    /// Sync with a folder that goes between you and your contacts (a USB stick): read
    /// every Thicket file in it, then write there what each contact and pending
    /// contact should receive (nothing for a contact with nothing new).
    Sync {
        /// The folder.
        dir: PathBuf,
    },
    /// Remove a contact (and your conversation with them) or a pending contact.
    Remove {
        /// The contact or pending contact.
        name: String,
        /// Yes, delete the contact and the conversation.
        #[arg(long)]
        yes: bool,
    },
    /// Keep the account online over Tor (and the local network, with `--lan`):
    /// contacts dialed, pending contacts met, keys rotated. Prints events until
    /// interrupted, and takes commands on standard input (`help` lists them).
    Run {
        #[command(flatten)]
        online: OnlineArgs,
    },
}

pub(crate) fn default_data_dir() -> Result<PathBuf, String> {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from)
        && xdg.is_absolute()
    {
        return Ok(xdg.join("thicket"));
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|h| h.is_absolute())
        .ok_or("no home folder: set HOME, XDG_DATA_HOME or --data-dir")?;
    Ok(home.join(".local/share/thicket"))
}
