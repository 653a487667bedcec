//! `thicket`: the command line of the Thicket messenger.
//!
//! Every subcommand unlocks the account, does one thing through the engine's public
//! API, and exits; `run` keeps the engine (and its transports) up until interrupted.
//! The password comes from the terminal, or from a file or file descriptor for scripts,
//! never from an argument (arguments are visible to every user of the machine). The
//! interface (`thicket` alone) asks for it on its first screen, which also creates the
//! account on the first run; a new password must be hard to guess (zxcvbn score 3).
// A command-line program prints.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bramble_engine::{Engine, Event, PendingState, Target, create_account};
use bramble_proto::messaging::DeliveryState;
use bramble_proto::transport::TransportId;
use bramble_store::ContactId;
use clap::Parser;
use thicket_transport::Status;
use zeroize::Zeroizing;

mod cli;
mod failure;
mod folder;
mod password;
mod setup;
mod strength;
mod time;
mod ui;

use cli::{Cli, Command, OnlineArgs, default_data_dir};
use failure::Failure;
use setup::{online_of, open_online, open_with};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Diagnostics only when asked for (`THICKET_LOG=info`), on standard error. Arti
    // redacts addresses in its logs.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("THICKET_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
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

async fn run(cli: Cli) -> Result<(), Failure> {
    let dir = match &cli.global.data_dir {
        Some(d) => d.clone(),
        None => default_data_dir()?,
    };
    let global = &cli.global;
    let command = cli.command.unwrap_or(Command::Ui {
        online: OnlineArgs::default(),
        bell: false,
    });
    match command {
        Command::Init { name } => {
            bramble_proto::contact::check_name(&name).map_err(|e| e.to_string())?;
            let password: Zeroizing<String> = password::read(global, true)?;
            strength::check_new(&password, &name)?;
            let (d, n, p) = (dir.clone(), name.clone(), password.clone());
            tokio::task::spawn_blocking(move || create_account(&d, &n, &p))
                .await
                .map_err(|_| "account creation was interrupted")??;
            let engine = open_with(&dir, &password, None).await?;
            let link = engine.link().await;
            engine.shutdown().await;
            println!("Created the account of {name} in {}.", dir.display());
            println!("Your link (give it to people who want to add you):");
            println!("{}", link?);
            Ok(())
        }
        // On a terminal, the interface asks for the password itself (and creates the
        // account on the first run).
        Command::Ui { online, bell }
            if global.password_file.is_none() && global.password_fd.is_none() =>
        {
            ui::run::run_gated(&dir, online_of(&dir, &online)?, bell).await
        }
        command => {
            let online = match &command {
                Command::Run { online } | Command::Ui { online, .. } => {
                    Some(online_of(&dir, online)?)
                }
                _ => None,
            };
            let engine = open_online(global, &dir, online).await?;
            // The store closes cleanly whatever the command's outcome: a process must not
            // exit with the database worker still running.
            let result = execute(&engine, command).await;
            engine.shutdown().await;
            result
        }
    }
}

/// Runs a command on the open account.
async fn execute(engine: &Engine, command: Command) -> Result<(), Failure> {
    match command {
        Command::Init { .. } => {}
        Command::Link => {
            println!("{}", engine.link().await?);
        }
        Command::Add { link, name } => {
            engine.add_link(&link, &name).await?;
            println!("Added {name}. They must add your link too:");
            println!("{}", engine.link().await?);
            println!(
                "The contact is made when you meet over a transport, or with `thicket export {name} --to DIR` and `thicket import DIR` on both sides."
            );
        }
        Command::Contacts => {
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
        }
        Command::Pending => {
            let pending = engine.pending().await?;
            if pending.is_empty() {
                println!("No pending contacts.");
            }
            for p in pending {
                let state = match p.state {
                    PendingState::Waiting => String::from("waiting for their handshake"),
                    PendingState::AwaitingInfo => String::from("waiting for their contact details"),
                    PendingState::Completed(_) => String::from("added; waiting for them to finish"),
                    PendingState::Failed(why) => format!("failed: {why} (still trying)"),
                    PendingState::Expired => String::from("expired"),
                };
                println!(
                    "{}\t{state}\texpires {}",
                    p.alias,
                    time::format(p.expires_at)
                );
            }
        }
        Command::Send { name, text } => {
            let contact = engine.find_contact(&name).await?;
            engine.send(contact, &text.join(" ")).await?;
            println!("Queued for {name}.");
        }
        Command::Read { name, last } => {
            let contact = engine.find_contact(&name).await?;
            show_conversation(engine, contact, &name, last).await?;
            engine.mark_read(contact).await?;
        }
        Command::Verify {
            name,
            confirm,
            unverify,
        } => {
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
        }
        Command::Export { name, to } => {
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
        }
        Command::Sync { dir } => {
            let report = engine
                .sync_folder(&dir)
                .await
                .map_err(|e| Failure::from(folder::error(e)))?;
            println!(
                "Synced with {}: {}.",
                dir.display(),
                folder::describe(&report)
            );
            for (path, why) in &report.imported.rejected {
                println!("Skipped {}: {why}.", path.display());
            }
        }
        Command::Import { dir: from } => {
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
        }
        Command::Remove { name, yes } => {
            let target = engine.find(&name).await?;
            if let (Target::Contact(_), false) = (target, yes) {
                return Err(format!(
                    "removing {name} deletes your conversation with them; run `thicket remove {name} --yes` to go ahead"
                )
                .into());
            }
            engine.remove(target).await?;
            println!("Removed {name}.");
        }
        Command::Run { online } => run_online(engine, online.files).await,
        Command::Ui { bell, online } => ui::run::run(engine, bell, online.files).await?,
    }
    Ok(())
}

/// `thicket run`: events out, commands in, until Ctrl-C, SIGTERM or `quit`.
async fn run_online(engine: &Engine, files: Option<PathBuf>) {
    use tokio::io::AsyncBufReadExt as _;
    let mut events = engine.events();
    let running: Vec<TransportId> = engine.transports().into_iter().map(|(t, _)| t).collect();
    let names: Vec<&str> = running
        .iter()
        .map(|t| match t.as_str() {
            "tor" => "Tor",
            "lan" => "the local network",
            "ble" => "Bluetooth LE",
            other => other,
        })
        .collect();
    if names.is_empty() {
        println!("Thicket is running. Type `help` for commands; Ctrl-C stops.");
    } else {
        println!(
            "Thicket is running over {}. Type `help` for commands; Ctrl-C stops.",
            names.join(" and ")
        );
    }
    let mut watch = files.clone().map(|dir| {
        println!(
            "Syncing with the folder {} whenever it appears; `sync` syncs now.",
            dir.display()
        );
        folder::watch(dir)
    });
    if running.contains(&TransportId::TOR)
        && let Some(onion) = engine
            .local_properties(TransportId::TOR)
            .await
            .ok()
            .and_then(|p| p.get(thicket_tor::PROPERTY).cloned())
    {
        println!("Our onion address: {onion}");
    }
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut reading = true;
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("thicket: cannot watch for SIGTERM ({e}); Ctrl-C still stops");
                None
            }
        };
    loop {
        tokio::select! {
            e = events.recv() => match e {
                Ok(e) => print_event(engine, &e).await,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    println!("({n} events not shown)");
                }
                Err(_) => break,
            },
            line = lines.next_line(), if reading => match line {
                Ok(Some(line)) => {
                    if command(engine, &line, files.as_deref()).await == Flow::Quit {
                        break;
                    }
                }
                // No more input (or none to begin with): keep running.
                Ok(None) | Err(_) => reading = false,
            },
            Some(present) = async {
                match watch.as_mut() {
                    Some(w) => w.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                if let (true, Some(dir)) = (present, files.as_deref()) {
                    sync_and_say(engine, dir).await;
                }
            }
            _ = tokio::signal::ctrl_c() => break,
            Some(_) = async {
                match terminate.as_mut() {
                    Some(t) => t.recv().await,
                    None => std::future::pending().await,
                }
            } => break,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Go,
    Quit,
}

/// Splits off the first word, or a double-quoted name.
fn first_word(line: &str) -> Option<(&str, &str)> {
    let line = line.trim_start();
    if let Some(rest) = line.strip_prefix('"') {
        let end = rest.find('"')?;
        return Some((&rest[..end], rest[end + 1..].trim_start()));
    }
    let end = line.find(char::is_whitespace).unwrap_or(line.len());
    (end > 0).then(|| (&line[..end], line[end..].trim_start()))
}

const COMMANDS: &str = "commands:
  send NAME MESSAGE   queue a message (a NAME with spaces goes in double quotes)
  read NAME           show the latest messages with NAME and mark them read
  contacts            list contacts
  pending             list pending contacts
  link                print your link
  add LINK NAME       add someone by their link
  sync                read and write the folder given with --files
  quit                stop";

/// Syncs with the folder and says what that did, for `run`.
async fn sync_and_say(engine: &Engine, dir: &Path) {
    match engine.sync_folder(dir).await {
        Ok(report) => println!(
            "Synced with {}: {}.",
            dir.display(),
            folder::describe(&report)
        ),
        Err(e) => println!("error: {} not synced: {}", dir.display(), folder::error(e)),
    }
}

/// One line of `run`'s standard input; `files` is the folder `sync` syncs with.
async fn command(engine: &Engine, line: &str, files: Option<&Path>) -> Flow {
    // A line from a Windows-style file or terminal ends in CR: not part of the message.
    let line = line.trim_end();
    let result: Result<Flow, Failure> = async {
        let Some((verb, rest)) = first_word(line) else {
            return Ok(Flow::Go);
        };
        match verb {
            "send" => {
                let (name, text) = first_word(rest).ok_or("usage: send NAME MESSAGE")?;
                if text.is_empty() {
                    return Err("usage: send NAME MESSAGE".into());
                }
                let contact = engine.find_contact(name).await?;
                engine.send(contact, text).await?;
                println!("Queued for {name}.");
            }
            "read" => {
                let (name, _) = first_word(rest).ok_or("usage: read NAME")?;
                let contact = engine.find_contact(name).await?;
                show_conversation(engine, contact, name, 20).await?;
                engine.mark_read(contact).await?;
            }
            "contacts" => {
                for c in engine.contacts().await? {
                    println!("{}", c.display_name());
                }
            }
            "pending" => {
                for p in engine.pending().await? {
                    println!("{}\texpires {}", p.alias, time::format(p.expires_at));
                }
            }
            "link" => println!("{}", engine.link().await?),
            "add" => {
                let (link, rest) = first_word(rest).ok_or("usage: add LINK NAME")?;
                let (name, _) = first_word(rest).ok_or("usage: add LINK NAME")?;
                engine.add_link(link, name).await?;
                println!("Added {name}; waiting to meet them.");
            }
            "sync" => match files {
                Some(dir) => sync_and_say(engine, dir).await,
                None => {
                    return Err("no folder to sync: start `thicket run` with --files DIR".into());
                }
            },
            "help" => println!("{COMMANDS}"),
            "quit" | "exit" => return Ok(Flow::Quit),
            other => return Err(format!("unknown command {other:?}; `help` lists them").into()),
        }
        Ok(Flow::Go)
    }
    .await;
    match result {
        Ok(flow) => flow,
        Err(e) => {
            println!("error: {e}");
            Flow::Go
        }
    }
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
        Event::MessageReceived { contact, id } => {
            let text = engine
                .conversation(*contact, 100)
                .await
                .ok()
                .and_then(|ms| ms.into_iter().find(|m| m.id == *id))
                .map(|m| m.text)
                .unwrap_or_default();
            println!("New message from {}: {text}", name(*contact).await);
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
        Event::PendingChanged {
            state: PendingState::Failed(why),
            ..
        } => println!("A pending contact's handshake failed: {why}."),
        Event::TransportStatus { transport, status } => match status {
            Status::Stopped => println!("{transport}: stopped"),
            Status::Starting { percent, detail } => {
                println!("{transport}: starting, {percent}% ({detail})");
            }
            Status::Up => println!("{transport}: up, reachable"),
            Status::Limited(why) => println!("{transport}: up; {why}"),
            Status::Down(why) => println!("{transport}: down: {why}"),
        },
        Event::Nearby {
            transport,
            seen,
            connected,
        } => println!("{transport}: {seen} contacts in sight, {connected} connected"),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::first_word;

    #[test]
    fn command_words_and_quoted_names() {
        assert_eq!(
            first_word("send Sam hi there"),
            Some(("send", "Sam hi there"))
        );
        assert_eq!(first_word("  read   Sam  "), Some(("read", "Sam  ")));
        assert_eq!(
            first_word("\"Sam Smith\" see you"),
            Some(("Sam Smith", "see you"))
        );
        assert_eq!(first_word("\"unclosed name"), None);
        assert_eq!(first_word("   "), None);
        assert_eq!(first_word(""), None);
        assert_eq!(first_word("quit"), Some(("quit", "")));
        // Multi-byte text is split on characters, never inside one.
        assert_eq!(first_word("send Zoë ça va"), Some(("send", "Zoë ça va")));
        assert_eq!(first_word("Zoë\u{3000}x"), Some(("Zoë", "x")));
    }
}
