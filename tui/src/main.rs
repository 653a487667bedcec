//! `thicket`: the command line of the Thicket messenger.
//!
//! Every subcommand unlocks the account, does one thing through the engine's public
//! API, and exits; `run` keeps the engine (and its transports) up until interrupted.
//! The password comes from the terminal, or from a file or file descriptor for scripts,
//! never from an argument (arguments are visible to every user of the machine).
// A command-line program prints.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bramble_engine::{Engine, EngineError, Event, PendingState, Target, create_account};
use bramble_proto::messaging::DeliveryState;
use bramble_store::{ContactId, StoreError};
use clap::{Args, Parser, Subcommand};
use zeroize::Zeroizing;

mod password;
mod time;

/// Thicket: a messenger that keeps working when the internet does not.
#[derive(Debug, Parser)]
#[command(name = "thicket", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Global {
    /// The account's folder [default: $XDG_DATA_HOME/thicket, else ~/.local/share/thicket].
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Read the password from this file (its first line) instead of asking.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        conflicts_with = "password_fd"
    )]
    password_file: Option<PathBuf>,
    /// Read the password from this open file descriptor (its first line) instead of asking.
    #[arg(long, global = true, value_name = "FD")]
    password_fd: Option<u32>,
}

#[derive(Debug, Subcommand)]
enum Command {
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
    /// Remove a contact (and your conversation with them) or a pending contact.
    Remove {
        /// The contact or pending contact.
        name: String,
        /// Yes, delete the contact and the conversation.
        #[arg(long)]
        yes: bool,
    },
    /// Keep the account online: transports up, contacts dialed, keys rotated; prints
    /// events until interrupted.
    Run,
}

fn default_data_dir() -> Result<PathBuf, String> {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("thicket: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("thicket: {e}");
            ExitCode::FAILURE
        }
    }
}

/// An error for the user: what went wrong, in words.
#[derive(Debug)]
struct Failure(String);

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
            EngineError::Store(StoreError::NoAccount) => {
                String::from("no account here: create one with `thicket init --name NAME`")
            }
            EngineError::Store(StoreError::InvalidInput(why)) => why.to_owned(),
            e => e.to_string(),
        })
    }
}

async fn open(global: &Global, dir: &Path) -> Result<Engine, Failure> {
    if !bramble_store::exists(dir).map_err(EngineError::Store)? {
        return Err(EngineError::Store(StoreError::NoAccount).into());
    }
    let password = password::read(global, false)?;
    open_with(dir, &password).await
}

async fn open_with(dir: &Path, password: &str) -> Result<Engine, Failure> {
    Ok(Engine::open(dir, password, Vec::new()).await?)
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let dir = match &cli.global.data_dir {
        Some(d) => d.clone(),
        None => default_data_dir()?,
    };
    let global = &cli.global;
    match cli.command {
        Command::Init { name } => {
            bramble_proto::contact::check_name(&name).map_err(|e| e.to_string())?;
            let password: Zeroizing<String> = password::read(global, true)?;
            let (d, n, p) = (dir.clone(), name.clone(), password.clone());
            tokio::task::spawn_blocking(move || create_account(&d, &n, &p))
                .await
                .map_err(|_| "account creation was interrupted")??;
            let engine = open_with(&dir, &password).await?;
            println!("Created the account of {name} in {}.", dir.display());
            println!("Your link (give it to people who want to add you):");
            println!("{}", engine.link().await?);
            engine.shutdown().await;
        }
        Command::Link => {
            let engine = open(global, &dir).await?;
            println!("{}", engine.link().await?);
            engine.shutdown().await;
        }
        Command::Add { link, name } => {
            let engine = open(global, &dir).await?;
            engine.add_link(&link, &name).await?;
            println!("Added {name}. They must add your link too:");
            println!("{}", engine.link().await?);
            println!(
                "The contact is made when you meet over a transport, or with `thicket export {name} --to DIR` and `thicket import DIR` on both sides."
            );
            engine.shutdown().await;
        }
        Command::Contacts => {
            let engine = open(global, &dir).await?;
            let contacts = engine.contacts().await?;
            if contacts.is_empty() {
                println!("No contacts yet. Add someone with `thicket add LINK --name NAME`.");
            }
            for c in contacts {
                let shown = c.display_name();
                let unread = engine.unread_count(c.id).await?;
                println!(
                    "{shown}{}\t{}\t{unread} unread",
                    if c.alias.as_deref().is_some_and(|a| a != c.nickname) {
                        format!(" ({})", c.nickname)
                    } else {
                        String::new()
                    },
                    if c.verified {
                        "verified"
                    } else {
                        "not verified"
                    },
                );
            }
            engine.shutdown().await;
        }
        Command::Pending => {
            let engine = open(global, &dir).await?;
            let pending = engine.pending().await?;
            if pending.is_empty() {
                println!("No pending contacts.");
            }
            for p in pending {
                let state = match p.state {
                    PendingState::Waiting => "waiting for their handshake",
                    PendingState::AwaitingInfo => "waiting for their contact details",
                    PendingState::Completed(_) => "added; waiting for them to finish",
                    PendingState::Expired => "expired",
                };
                println!(
                    "{}\t{state}\texpires {}",
                    p.alias,
                    time::format(p.expires_at)
                );
            }
            engine.shutdown().await;
        }
        Command::Send { name, text } => {
            let engine = open(global, &dir).await?;
            let contact = engine.find_contact(&name).await?;
            engine.send(contact, &text.join(" ")).await?;
            println!("Queued for {name}.");
            engine.shutdown().await;
        }
        Command::Read { name, last } => {
            let engine = open(global, &dir).await?;
            let contact = engine.find_contact(&name).await?;
            show_conversation(&engine, contact, &name, last).await?;
            engine.mark_read(contact).await?;
            engine.shutdown().await;
        }
        Command::Verify {
            name,
            confirm,
            unverify,
        } => {
            let engine = open(global, &dir).await?;
            let contact = engine.find_contact(&name).await?;
            let number = engine.safety_number(contact).await?;
            println!("Safety number of you and {name}:");
            println!("{number}");
            if confirm {
                engine.set_verified(contact, true).await?;
                println!("{name} is now verified.");
            } else if unverify {
                engine.set_verified(contact, false).await?;
                println!("{name} is no longer verified.");
            } else {
                println!(
                    "Compare it with {name}'s, in person or on a call you trust. If they match, run `thicket verify {name} --confirm`."
                );
            }
            engine.shutdown().await;
        }
        Command::Export { name, to } => {
            let engine = open(global, &dir).await?;
            let target = engine.find(&name).await?;
            let report = engine.export(target, &to).await?;
            let what = match target {
                Target::Pending(_) => String::from("the handshake"),
                Target::Contact(_) => format!("{} new message(s)", report.messages),
            };
            println!(
                "Wrote {} file(s) for {name} ({what}) to {}.",
                report.files.len(),
                to.display()
            );
            engine.shutdown().await;
        }
        Command::Import { dir: from } => {
            let engine = open(global, &dir).await?;
            let report = engine.import(&from).await?;
            let contacts = engine.contacts().await?;
            let name_of = |id: ContactId| {
                contacts
                    .iter()
                    .find(|c| c.id == id)
                    .map_or_else(|| String::from("?"), |c| c.display_name().to_owned())
            };
            for c in &report.contacts_added {
                println!("Added {}: the handshake completed.", name_of(*c));
            }
            let mut per_contact: Vec<(ContactId, usize)> = Vec::new();
            for (c, _) in &report.messages {
                match per_contact.iter_mut().find(|(id, _)| id == c) {
                    Some((_, n)) => *n += 1,
                    None => per_contact.push((*c, 1)),
                }
            }
            for (c, n) in per_contact {
                println!("{n} new message(s) from {}.", name_of(c));
            }
            println!(
                "Read {} handshake file(s); {} file(s) were not for this account or were read before.",
                report.handshakes, report.unrecognised
            );
            for (path, why) in &report.rejected {
                println!("Skipped {}: {why}.", path.display());
            }
            engine.shutdown().await;
        }
        Command::Remove { name, yes } => {
            let engine = open(global, &dir).await?;
            let target = engine.find(&name).await?;
            if let (Target::Contact(_), false) = (target, yes) {
                engine.shutdown().await;
                return Err(format!(
                    "removing {name} deletes your conversation with them; run `thicket remove {name} --yes` to go ahead"
                )
                .into());
            }
            engine.remove(target).await?;
            println!("Removed {name}.");
            engine.shutdown().await;
        }
        Command::Run => {
            let engine = open(global, &dir).await?;
            let mut events = engine.events();
            println!("Thicket is running. Press Ctrl-C to stop.");
            if engine.transports().is_empty() {
                println!(
                    "No network transport is available in this build yet; carry files with `export` and `import`."
                );
            }
            loop {
                tokio::select! {
                    e = events.recv() => match e {
                        Ok(e) => print_event(&engine, &e).await,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            println!("({n} events not shown)");
                        }
                        Err(_) => break,
                    },
                    _ = tokio::signal::ctrl_c() => break,
                }
            }
            engine.shutdown().await;
        }
    }
    Ok(())
}

async fn show_conversation(
    engine: &Engine,
    contact: ContactId,
    name: &str,
    last: usize,
) -> Result<(), Failure> {
    let messages = engine.conversation(contact, last).await?;
    if messages.is_empty() {
        println!("No messages with {name} yet.");
    }
    for m in messages {
        let who = if m.ours { "you" } else { name };
        let state = match (m.ours, m.delivery) {
            (true, Some(DeliveryState::Delivered)) => " [delivered]",
            (true, Some(DeliveryState::Sent)) => " [sent]",
            (true, _) => " [queued]",
            (false, _) if !m.read => " [new]",
            _ => "",
        };
        let mut lines = m.text.lines();
        println!(
            "{} {who}: {}{state}",
            time::format(m.timestamp),
            lines.next().unwrap_or_default()
        );
        for line in lines {
            println!("    {line}");
        }
    }
    Ok(())
}

async fn print_event(engine: &Engine, e: &Event) {
    let name = |c: ContactId| async move {
        engine
            .contacts()
            .await
            .ok()
            .and_then(|cs| cs.into_iter().find(|x| x.id == c))
            .map_or_else(|| String::from("?"), |c| c.display_name().to_owned())
    };
    match e {
        Event::MessageReceived { contact, .. } => {
            println!("New message from {}.", name(*contact).await)
        }
        Event::DeliveryChanged {
            contact,
            state: DeliveryState::Delivered,
            ..
        } => println!("A message to {} was delivered.", name(*contact).await),
        Event::ContactAdded { contact } => println!("Added {}.", name(*contact).await),
        Event::ContactConnected { contact, transport } => {
            println!("Connected to {} over {transport}.", name(*contact).await);
        }
        Event::ContactDisconnected { contact, transport } => {
            println!(
                "Disconnected from {} over {transport}.",
                name(*contact).await
            );
        }
        Event::PendingChanged {
            state: PendingState::Expired,
            ..
        } => println!("A pending contact expired."),
        Event::TransportStatus { transport, status } => println!("{transport}: {status:?}"),
        _ => {}
    }
}
