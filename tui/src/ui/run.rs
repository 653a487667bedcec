//! Runs the interface on the terminal: the first screen, which creates or unlocks the
//! account, then the main screens against the open engine.
//!
//! Three sources feed one loop: keys (read by a thread that blocks on the terminal),
//! the engine's events, and answers to requests. Each request runs as its own task and
//! answers through a channel, so a slow database or transport never holds up typing or
//! drawing.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use std::path::{Path, PathBuf};

use bramble_engine::{Engine, EngineError, Event, create_account};
use bramble_store::StoreError;
use ratatui::crossterm::event::{self, DisableBracketedPaste, EnableBracketedPaste};
use ratatui::crossterm::execute;
use tokio::sync::{broadcast, mpsc};
use zeroize::Zeroize as _;

use super::app::{AddField, App, ContactRow, Folder, FolderState, PAGE, Request, Update};
use super::gate::{Gate, GateAnswer, GateKind, GateRequest};
use super::view;
use crate::failure::Failure;
use crate::setup::{Online, open_with};

/// The terminal, taken over, and a thread that reads its keys.
struct Screen {
    terminal: ratatui::DefaultTerminal,
    keys: mpsc::UnboundedReceiver<event::Event>,
    stop: Arc<AtomicBool>,
    reader: std::thread::JoinHandle<()>,
}

impl Screen {
    fn start() -> Result<Screen, Failure> {
        let (keys_tx, keys) = mpsc::unbounded_channel();
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
        let terminal = match ratatui::try_init() {
            Ok(t) => t,
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                let _ = reader.join();
                return Err(format!("cannot take over the terminal: {e}").into());
            }
        };
        let _ = execute!(std::io::stdout(), EnableBracketedPaste);
        Ok(Screen {
            terminal,
            keys,
            stop,
            reader,
        })
    }

    /// Gives the terminal back as it was.
    fn finish(self) {
        let _ = execute!(std::io::stdout(), DisableBracketedPaste);
        ratatui::restore();
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.reader.join();
    }
}

/// `NO_COLOR` is not set (to something other than nothing).
fn colour_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Runs on an account opened already (its password came from a file), until the user
/// quits, Ctrl-C, or SIGTERM.
pub(crate) async fn run(
    engine: &Engine,
    bell: bool,
    folder: Option<PathBuf>,
) -> Result<(), Failure> {
    let mut screen = Screen::start()?;
    let result = interface(engine, bell, folder, None, &mut screen).await;
    screen.finish();
    result
}

/// Runs from the first screen: creates the account in `dir` (none there yet) or unlocks
/// it, goes online with `online`, and runs until the user quits, Ctrl-C, or SIGTERM.
/// The account is shut down before this returns.
pub(crate) async fn run_gated(dir: &Path, online: Online, bell: bool) -> Result<(), Failure> {
    let kind = if bramble_store::exists(dir).map_err(EngineError::Store)? {
        GateKind::Unlock
    } else {
        GateKind::Create
    };
    let mut screen = Screen::start()?;
    let mut gate = Gate::new(kind, &dir.display().to_string());
    gate.color = colour_allowed();
    let opened = gate_loop(&mut gate, dir, &online, &mut screen).await;
    // Wipes the password fields.
    drop(gate);
    let (engine, result) = match opened {
        Ok(Some((engine, welcome))) => {
            let folder = online.files.clone();
            let result = interface(&engine, bell, folder, welcome, &mut screen).await;
            (Some(engine), result)
        }
        Ok(None) => (None, Ok(())),
        Err(e) => (None, Err(e)),
    };
    // The terminal first: shutting transports down can take a moment.
    screen.finish();
    if let Some(engine) = engine {
        engine.shutdown().await;
    }
    result
}

/// An opened account, and a word of welcome for a new one.
type Opened = (Engine, Option<String>);

/// The first screen's loop: keys in, and creating or unlocking off this task. Returns
/// the open account, or nothing if the user quit.
async fn gate_loop(
    gate: &mut Gate,
    dir: &Path,
    online: &Online,
    screen: &mut Screen,
) -> Result<Option<Opened>, Failure> {
    let (answers_tx, mut answers) = mpsc::unbounded_channel();
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let mut keys_open = true;
    loop {
        screen
            .terminal
            .draw(|f| view::draw_gate(gate, f))
            .map_err(|e| format!("cannot draw: {e}"))?;
        tokio::select! {
            k = screen.keys.recv(), if keys_open => match k {
                Some(event::Event::Key(k)) => match gate.key(k) {
                    Some(GateRequest::Quit) => return Ok(None),
                    Some(request) => {
                        tokio::spawn(open_account(
                            dir.to_owned(),
                            online.clone(),
                            request,
                            answers_tx.clone(),
                        ));
                    }
                    None => {}
                },
                Some(event::Event::Paste(mut text)) => {
                    gate.paste(&text);
                    // It may be a password: the terminal's copy is wiped too.
                    text.zeroize();
                }
                Some(_) => {}
                // An account being opened is waited for, to be shut down cleanly.
                None if gate.busy => {
                    keys_open = false;
                    gate.quitting = true;
                }
                None => return Err("the terminal closed".into()),
            },
            Some(answer) = answers.recv() => match answer {
                Ok((engine, _)) if gate.quitting => {
                    engine.shutdown().await;
                    return Ok(None);
                }
                Ok(opened) => return Ok(Some(opened)),
                Err(_) if gate.quitting => return Ok(None),
                Err(answer) => gate.answer(answer),
            },
            Some(()) = async {
                match terminate.as_mut() {
                    Some(t) => t.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                if !gate.busy {
                    return Ok(None);
                }
                gate.quitting = true;
            }
        }
    }
}

/// Creates and opens, or opens, the account, and sends back the outcome.
async fn open_account(
    dir: PathBuf,
    online: Online,
    request: GateRequest,
    tx: mpsc::UnboundedSender<Result<Opened, GateAnswer>>,
) {
    let refused = |e: EngineError| match e {
        EngineError::Store(StoreError::WrongPassword) => GateAnswer::WrongPassword,
        EngineError::Store(StoreError::InUse) => GateAnswer::Failed(String::from(
            "The account is open in another Thicket: quit that one, then press Enter.",
        )),
        e => GateAnswer::Failed(Failure::from(e).to_string()),
    };
    let result = match request {
        GateRequest::Unlock(password) => open_with(&dir, &password, Some(online))
            .await
            .map(|engine| (engine, None))
            .map_err(refused),
        GateRequest::Create { name, password } => {
            let (d, n, p) = (dir.clone(), name.clone(), password.clone());
            match tokio::task::spawn_blocking(move || create_account(&d, &n, &p)).await {
                Err(_) => Err(GateAnswer::Failed(String::from(
                    "creating the account was interrupted",
                ))),
                Ok(Err(e)) => Err(refused(e)),
                Ok(Ok(())) => match open_with(&dir, &password, Some(online)).await {
                    Ok(engine) => Ok((
                        engine,
                        Some(format!(
                            "Welcome, {name}. Press a to add a contact: your link is there."
                        )),
                    )),
                    Err(e) => Err(GateAnswer::Created(Failure::from(e).to_string())),
                },
            }
        }
        GateRequest::Quit => return,
    };
    // Nobody to take it (the interface stopped): the account still closes cleanly.
    if let Err(mpsc::error::SendError(Ok((engine, _)))) = tx.send(result) {
        engine.shutdown().await;
    }
}

/// The main screens, on an open account.
async fn interface(
    engine: &Engine,
    bell: bool,
    folder: Option<PathBuf>,
    welcome: Option<String>,
    screen: &mut Screen,
) -> Result<(), Failure> {
    // Subscribed before the first reads, so that nothing falls between them.
    let mut events = engine.events();
    let nickname = engine.nickname().await?;
    let transports: Vec<_> = engine.transports().into_iter().map(|(t, _)| t).collect();
    let mut app = App::new(&nickname, &transports, bramble_engine::now()?);
    app.color = colour_allowed();
    app.bell = bell;
    app.folder = folder.map(|path| Folder {
        path,
        state: FolderState::Unknown,
    });
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
    if let Some(welcome) = welcome {
        app.notify(welcome);
    }
    main_loop(
        engine,
        &mut app,
        &mut screen.terminal,
        &mut events,
        &mut screen.keys,
    )
    .await
}

async fn main_loop(
    engine: &Engine,
    app: &mut App,
    terminal: &mut ratatui::DefaultTerminal,
    events: &mut broadcast::Receiver<Event>,
    keys: &mut mpsc::UnboundedReceiver<event::Event>,
) -> Result<(), Failure> {
    let (answers_tx, mut answers) = mpsc::unbounded_channel();
    // Reads whose answers replace what is shown go one after the other, so that they
    // are answered in the order they read the store: an older contact list never
    // lands after a newer one (it would close a conversation just opened).
    let (reads_tx, mut reads) = mpsc::unbounded_channel::<Request>();
    let _reader = {
        let (engine, tx) = (engine.clone(), answers_tx.clone());
        AbortOnDrop(tokio::spawn(async move {
            while let Some(r) = reads.recv().await {
                answer(engine.clone(), r, tx.clone()).await;
            }
        }))
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let mut requests = vec![Request::Contacts];
    let mut folder = app
        .folder
        .as_ref()
        .map(|f| crate::folder::watch(f.path.clone()));
    loop {
        for r in requests.drain(..) {
            match r {
                Request::Quit => return Ok(()),
                Request::Contacts
                | Request::Pending
                | Request::Open(_)
                | Request::Older(..)
                | Request::Send(..) => {
                    let _ = reads_tx.send(r);
                }
                _ => {
                    tokio::spawn(answer(engine.clone(), r, answers_tx.clone()));
                }
            }
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
            Some(present) = async {
                match folder.as_mut() {
                    Some(f) => f.recv().await,
                    None => std::future::pending().await,
                }
            } => requests.extend(app.update(Update::FolderPresent(present))),
            Some(()) = async {
                match terminate.as_mut() {
                    Some(t) => t.recv().await,
                    None => std::future::pending().await,
                }
            } => return Ok(()),
        }
    }
}

/// A task that ends with its owner.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
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
            Request::SyncFolder(dir) => match engine.sync_folder(&dir).await {
                Ok(report) => vec![Update::FolderSynced(crate::folder::describe(&report))],
                Err(e) => vec![Update::FolderFailed(crate::folder::error(e))],
            },
            Request::Remove(target, name) => {
                engine.remove(target).await?;
                vec![Update::Removed(target, name)]
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

/// The contact list, as [`super::app::contact_rows`] orders it.
async fn rows(engine: &Engine) -> Result<Vec<ContactRow>, EngineError> {
    Ok(super::app::contact_rows(engine.overview().await?))
}
