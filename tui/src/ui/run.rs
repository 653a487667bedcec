//! Runs the interface on the terminal against an open engine.
//!
//! Three sources feed one loop: keys (read by a thread that blocks on the terminal),
//! the engine's events, and answers to requests. Each request runs as its own task and
//! answers through a channel, so a slow database or transport never holds up typing or
//! drawing.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bramble_engine::{Engine, EngineError, Event};
use ratatui::crossterm::event::{self, DisableBracketedPaste, EnableBracketedPaste};
use ratatui::crossterm::execute;
use tokio::sync::{broadcast, mpsc};

use super::app::{AddField, App, ContactRow, PAGE, Request, Update};
use super::view;
use crate::Failure;

/// Runs until the user quits, Ctrl-C, or SIGTERM.
pub(crate) async fn run(engine: &Engine, bell: bool) -> Result<(), Failure> {
    // Subscribed before the first reads, so that nothing falls between them.
    let mut events = engine.events();
    let nickname = engine.nickname().await?;
    let transports: Vec<_> = engine.transports().into_iter().map(|(t, _)| t).collect();
    let mut app = App::new(&nickname, &transports, bramble_engine::now()?);
    app.color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    app.bell = bell;
    for (transport, status) in engine.transport_status() {
        app.update(Update::Event(Event::TransportStatus { transport, status }));
    }
    for (transport, seen, connected) in engine.nearby() {
        app.update(Update::Event(Event::Nearby {
            transport,
            seen,
            connected,
        }));
    }
    app.update(Update::Connected(engine.connected()));

    let (keys_tx, mut keys) = mpsc::unbounded_channel();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name(String::from("thicket-keys"))
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match event::poll(Duration::from_millis(200)) {
                        Ok(false) => {}
                        Ok(true) => match event::read() {
                            Ok(e) => {
                                if keys_tx.send(e).is_err() {
                                    return;
                                }
                            }
                            Err(_) => return,
                        },
                        Err(_) => return,
                    }
                }
            })
            .map_err(|e| format!("cannot read the keyboard: {e}"))?
    };

    let mut terminal =
        ratatui::try_init().map_err(|e| format!("cannot take over the terminal: {e}"))?;
    let _ = execute!(std::io::stdout(), EnableBracketedPaste);
    let result = main_loop(engine, &mut app, &mut terminal, &mut events, &mut keys).await;
    let _ = execute!(std::io::stdout(), DisableBracketedPaste);
    ratatui::restore();
    stop.store(true, Ordering::Relaxed);
    let _ = reader.join();
    result
}

async fn main_loop(
    engine: &Engine,
    app: &mut App,
    terminal: &mut ratatui::DefaultTerminal,
    events: &mut broadcast::Receiver<Event>,
    keys: &mut mpsc::UnboundedReceiver<event::Event>,
) -> Result<(), Failure> {
    let (answers_tx, mut answers) = mpsc::unbounded_channel();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let mut requests = vec![Request::Contacts];
    loop {
        for r in requests.drain(..) {
            if r == Request::Quit {
                return Ok(());
            }
            tokio::spawn(answer(engine.clone(), r, answers_tx.clone()));
        }
        let mut drawn = view::Drawn::default();
        terminal
            .draw(|f| drawn = view::draw(app, f))
            .map_err(|e| format!("cannot draw: {e}"))?;
        requests.extend(app.settle(&drawn));
        if app.ring {
            app.ring = false;
            let mut out = std::io::stdout();
            let _ = out.write_all(b"\x07").and_then(|()| out.flush());
        }
        tokio::select! {
            k = keys.recv() => match k {
                Some(event::Event::Key(k)) => requests.extend(app.key(k)),
                Some(event::Event::Paste(text)) => requests.extend(app.paste(&text)),
                Some(_) => {}
                None => return Err("the terminal closed".into()),
            },
            a = answers.recv() => {
                if let Some(a) = a {
                    requests.extend(app.update(a));
                }
            }
            e = events.recv() => match e {
                // Connections are read whole: of two redundant ones, one closing
                // leaves the contact connected.
                Ok(Event::ContactConnected { .. } | Event::ContactDisconnected { .. }) => {
                    app.update(Update::Connected(engine.connected()));
                }
                Ok(e) => requests.extend(app.update(Update::Event(e))),
                // Too many at once: read everything again.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    requests.push(Request::Contacts);
                    app.update(Update::Connected(engine.connected()));
                    for (transport, seen, connected) in engine.nearby() {
                        app.update(Update::Event(Event::Nearby { transport, seen, connected }));
                    }
                    if let Some(c) = &app.conversation {
                        requests.push(Request::Open(c.contact));
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            _ = tick.tick() => {
                if let Ok(now) = bramble_engine::now() {
                    app.update(Update::Tick(now));
                }
            }
            Some(()) = async {
                match terminate.as_mut() {
                    Some(t) => t.recv().await,
                    None => std::future::pending().await,
                }
            } => return Ok(()),
        }
    }
}

/// Runs one request against the engine and sends back what the app needs.
async fn answer(engine: Engine, request: Request, tx: mpsc::UnboundedSender<Update>) {
    let result: Result<Vec<Update>, EngineError> = async {
        Ok(match request {
            Request::Contacts => vec![Update::Contacts(rows(&engine).await?)],
            Request::Open(contact) => {
                let page = engine.conversation(contact, PAGE).await?;
                engine.mark_read(contact).await?;
                vec![
                    Update::Latest(contact, page),
                    Update::Contacts(rows(&engine).await?),
                ]
            }
            Request::Older(contact, t, id) => {
                let page = engine.conversation_before(contact, (t, id), PAGE).await?;
                vec![Update::Older(contact, page)]
            }
            Request::Send(contact, text) => match engine.send(contact, &text).await {
                Ok(_) => {
                    let page = engine.conversation(contact, PAGE).await?;
                    vec![
                        Update::Latest(contact, page),
                        Update::Contacts(rows(&engine).await?),
                    ]
                }
                Err(e) => vec![Update::SendFailed(text, Failure::from(e).to_string())],
            },
            Request::OwnLink => vec![Update::OwnLink(engine.link().await?.to_string())],
            Request::Pending => vec![Update::Pending(engine.pending().await?)],
            Request::AddLink(link, name) => match engine.add_link(&link, &name).await {
                Ok(_) => vec![Update::Added(name)],
                Err(e) => {
                    let field = match e {
                        EngineError::Link(_)
                        | EngineError::OwnLink
                        | EngineError::BadLink
                        | EngineError::AlreadyContact(_)
                        | EngineError::AlreadyPending(_) => AddField::Link,
                        _ => AddField::Name,
                    };
                    vec![Update::AddFailed(field, Failure::from(e).to_string())]
                }
            },
            Request::SafetyNumber(contact) => {
                let number = engine.safety_number(contact).await?;
                vec![Update::SafetyNumber(contact, number.to_digits())]
            }
            Request::SetVerified(contact, verified) => {
                engine.set_verified(contact, verified).await?;
                vec![Update::Verified(contact, verified)]
            }
            Request::Quit => Vec::new(),
        })
    }
    .await;
    match result {
        Ok(updates) => {
            for u in updates {
                let _ = tx.send(u);
            }
        }
        Err(e) => {
            let _ = tx.send(Update::Error(Failure::from(e).to_string()));
        }
    }
}

/// The contact list: latest activity first, then by name.
async fn rows(engine: &Engine) -> Result<Vec<ContactRow>, EngineError> {
    let mut rows: Vec<ContactRow> = engine
        .overview()
        .await?
        .into_iter()
        .map(|o| ContactRow {
            id: o.contact.id,
            name: o.contact.display_name().to_owned(),
            verified: o.contact.verified,
            unread: o.unread,
            last: o.last,
        })
        .collect();
    rows.sort_by(|a, b| {
        b.last
            .cmp(&a.last)
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
    });
    Ok(rows)
}
