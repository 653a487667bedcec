//! Draws an [`App`]: the contact list, the conversation, the compose line, the status
//! bar and the help overlay. Drawing reads only what fits on screen: a conversation is
//! laid out from its newest message up, until the rows run out.

use bramble_proto::messaging::{DeliveryState, MAX_TEXT_LEN};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use thicket_transport::Status;
use unicode_width::UnicodeWidthChar;

use bramble_engine::{PendingState, Target};
use bramble_proto::ids::MessageId;
use bramble_proto::time::Timestamp;

use super::app::{
    App, COUNTER_FROM, Compose, Conversation, Focus, FolderState, Removal, Scroll, transport_name,
};
use super::gate::{Gate, GateField, GateKind, Secret};
use crate::time;

/// What drawing found out that the app needs to know.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Drawn {
    /// The oldest loaded message is on screen: time to load the page before it.
    pub(crate) top_reached: bool,
    /// Where the open conversation is scrolled to, with the rows asked for applied.
    pub(crate) scroll: Option<Scroll>,
}

/// Every key, for the help overlay.
pub(crate) const KEYS: &[(&str, &str)] = &[
    ("↑ ↓  k j", "choose a contact"),
    ("Enter  l  i", "open the conversation and type"),
    ("g  G  Home  End", "first / last contact"),
    ("Enter  Alt+Enter", "send / new line (while typing)"),
    ("← →  Home  End", "move in the message"),
    ("Ctrl+A  E  U", "line start / end / delete to start"),
    ("↑ ↓ (typing)", "scroll one line"),
    ("PgUp PgDn  u d", "scroll the conversation"),
    ("Esc", "back to the contact list"),
    ("a", "add a contact (your link, theirs)"),
    ("v", "verify the contact (safety number)"),
    ("x  Delete", "remove the contact (asks first)"),
    ("f  F5", "sync with the folder (--files DIR)"),
    ("Tab (adding)", "the other field"),
    ("F2  Ctrl+O", "your link as a QR code (adding)"),
    (
        "Ctrl+N/P  Ctrl+D",
        "choose / remove a waiting link (adding)",
    ),
    ("? F1", "this help"),
    ("q  Ctrl+C", "quit"),
];

struct Theme {
    color: bool,
}

impl Theme {
    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }
    fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }
    fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
}

/// Draws `app` on `frame`.
pub(crate) fn draw(app: &App, frame: &mut Frame<'_>) -> Drawn {
    let theme = Theme { color: app.color };
    let area = frame.area();
    let compose_rows = compose_rows(app, area.width.saturating_sub(2));
    let [main, compose, status] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(compose_rows + 2),
        Constraint::Length(1),
    ])
    .areas(area);
    if app.adding || app.verifying.is_some() {
        let [screen, status] =
            Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(area);
        if app.adding && app.qr {
            draw_qr(app, &theme, frame, screen);
        } else if app.adding {
            draw_add(app, &theme, frame, screen);
        } else {
            draw_verify(app, &theme, frame, screen);
        }
        draw_status(app, &theme, frame, status);
        if app.help {
            draw_help(&theme, frame, area);
        }
        if let Some(r) = &app.removing {
            draw_removal(r, &theme, frame, area);
        }
        return Drawn::default();
    }
    let list_width = if area.width >= 120 { 32 } else { 24 };
    let [list, chat] =
        Layout::horizontal([Constraint::Length(list_width), Constraint::Min(10)]).areas(main);
    draw_contacts(app, &theme, frame, list);
    let drawn = draw_conversation(app, &theme, frame, chat);
    draw_compose(app, &theme, frame, compose);
    draw_status(app, &theme, frame, status);
    if app.help {
        draw_help(&theme, frame, area);
    }
    if let Some(r) = &app.removing {
        draw_removal(r, &theme, frame, area);
    }
    drawn
}

fn draw_contacts(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let focused = app.focus == Focus::Contacts && !app.help;
    let block = Block::bordered()
        .title(" Contacts ")
        .border_style(if focused {
            theme.fg(Color::Cyan)
        } else {
            theme.dim()
        });
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if app.contacts.is_empty() {
        let p = Paragraph::new(vec![Line::from("No contacts yet.")]).style(theme.dim());
        frame.render_widget(p, inner);
        return;
    }
    let rows = usize::from(inner.height).max(1);
    let offset = app.selected.saturating_sub(rows - 1);
    let width = usize::from(inner.width);
    let lines: Vec<Line<'_>> = app
        .contacts
        .iter()
        .enumerate()
        .skip(offset)
        .take(rows)
        .map(|(i, c)| {
            let when = c
                .last
                .map(|t| format!(" {}", time::short(t, app.now)))
                .unwrap_or_default();
            let mut right = String::new();
            if c.unread > 0 {
                right.push_str(&format!(" ({})", c.unread.min(999)));
            }
            let reach: Vec<&str> = app
                .connected
                .get(&c.id)
                .into_iter()
                .flatten()
                .map(|t| match t.as_str() {
                    "tor" => "T",
                    "lan" => "L",
                    "ble" => "B",
                    _ => "?",
                })
                .collect();
            if !reach.is_empty() {
                right.push(' ');
                right.push_str(&reach.concat());
            }
            let mark = if c.verified { "✓" } else { " " };
            let name_width = width.saturating_sub(2 + when.chars().count() + right.chars().count());
            let name = fit(&c.name, name_width);
            let pad = name_width.saturating_sub(text_width(&name));
            let mut style = Style::new();
            if c.unread > 0 {
                style = style.add_modifier(Modifier::BOLD);
            }
            if i == app.selected {
                style = style.add_modifier(Modifier::REVERSED);
            }
            Line::from(vec![
                Span::styled(format!("{mark} "), theme.fg(Color::Green)),
                Span::raw(name),
                Span::raw(" ".repeat(pad)),
                Span::styled(when, theme.dim()),
                Span::styled(right, theme.fg(Color::Yellow)),
            ])
            .style(style)
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_conversation(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) -> Drawn {
    let mut drawn = Drawn::default();
    let Some(conv) = app.conversation.as_ref() else {
        let block = Block::bordered().border_style(theme.dim());
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let text = if app.contacts.is_empty() {
            vec![
                Line::from("To add someone, press a: send them your link over any"),
                Line::from("channel and paste theirs. You become contacts once you"),
                Line::from("have both added each other and next meet."),
            ]
        } else {
            vec![Line::from("Choose a contact and press Enter.")]
        };
        frame.render_widget(Paragraph::new(text).style(theme.dim()), inner);
        return drawn;
    };
    let contact = app.open_contact();
    let name = contact.map_or("?", |c| c.name.as_str());
    let mut title = vec![Span::raw(format!(" {name} "))];
    match contact {
        Some(c) if c.verified => title.push(Span::styled("✓ verified ", theme.fg(Color::Green))),
        _ => title.push(Span::styled("not verified ", theme.dim())),
    }
    if let Some(set) = app.connected.get(&conv.contact).filter(|s| !s.is_empty()) {
        let names: Vec<&str> = set.iter().map(transport_name).collect();
        title.push(Span::styled(
            format!("· connected over {} ", names.join(", ")),
            theme.fg(Color::Cyan),
        ));
    }
    let block = Block::bordered()
        .title(Line::from(title))
        .border_style(theme.dim());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let height = usize::from(inner.height);
    if width < 8 || height == 0 {
        return drawn;
    }
    let layout = Rows {
        conv,
        name,
        theme,
        width,
    };
    let (visible, scroll) = layout.screen(height, &mut drawn);
    drawn.scroll = Some(scroll);
    // Bottom-aligned: short conversations sit above the compose line.
    let pad = height.saturating_sub(visible.len());
    let [_, body] =
        Layout::vertical([Constraint::Length(to_u16(pad)), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(visible), body);
    if let Scroll::At { key, .. } = scroll {
        let newer = conv.messages.len()
            - conv
                .messages
                .partition_point(|m| (m.timestamp, m.id) <= key);
        let tag = match newer {
            0 => String::from(" ↓ more "),
            1 => String::from(" ↓ 1 newer message "),
            n => format!(" ↓ {n} newer messages "),
        };
        let w = to_u16(text_width(&tag));
        let at = Rect::new(
            (area.x + area.width).saturating_sub(w + 1),
            area.y + area.height.saturating_sub(1),
            w.min(area.width),
            1,
        );
        frame.render_widget(Paragraph::new(tag).style(theme.fg(Color::Yellow)), at);
    }
    drawn
}

/// Lays out a conversation's rows around a position, touching only the messages
/// between where it was and what is on screen.
struct Rows<'a> {
    conv: &'a Conversation,
    name: &'a str,
    theme: &'a Theme,
    width: usize,
}

impl<'a> Rows<'a> {
    /// Message `i`'s rows, top first: a day separator where the day changes (and above
    /// the very first message), then the message.
    fn block(&self, i: usize) -> Vec<Line<'a>> {
        let messages = &self.conv.messages;
        let m = &messages[i];
        let mut rows = message_rows(m, self.name, self.theme, self.width);
        let older_day = i.checked_sub(1).map(|j| time::day(messages[j].timestamp));
        let day = time::day(m.timestamp);
        if older_day != Some(day) && (older_day.is_some() || self.conv.complete) {
            rows.insert(0, separator(day, self.theme, self.width));
        }
        rows
    }

    fn key(&self, i: usize) -> (Timestamp, MessageId) {
        let m = &self.conv.messages[i];
        (m.timestamp, m.id)
    }

    /// Where the bottom row is: a message and how many of its rows are below it.
    fn start(&self) -> (usize, usize) {
        let last = self.conv.messages.len() - 1;
        match self.conv.scroll {
            Scroll::Newest => (last, 0),
            Scroll::At { key, below } => {
                let i = self
                    .conv
                    .messages
                    .partition_point(|m| (m.timestamp, m.id) < key)
                    .min(last);
                if self.key(i) == key {
                    (i, below.min(self.block_max(i)))
                } else {
                    // That message is gone: the next newer one, from its last row.
                    (i, 0)
                }
            }
        }
    }

    fn up(&self, (mut i, mut below): (usize, usize), mut rows: usize) -> (usize, usize) {
        loop {
            let room = self.block_max(i).saturating_sub(below);
            if rows <= room {
                return (i, below + rows);
            }
            if i == 0 {
                return (0, below + room);
            }
            rows -= room + 1;
            i -= 1;
            below = 0;
        }
    }

    fn block_max(&self, i: usize) -> usize {
        self.block(i).len().saturating_sub(1)
    }

    fn down(&self, (mut i, mut below): (usize, usize), mut rows: usize) -> (usize, usize) {
        let last = self.conv.messages.len() - 1;
        loop {
            if rows <= below {
                return (i, below - rows);
            }
            if i == last {
                return (last, 0);
            }
            rows -= below + 1;
            i += 1;
            below = self.block_max(i);
        }
    }

    /// Up to `height` rows ending at the bottom row, bottom first, and whether the
    /// oldest loaded message is among them.
    fn above(&self, (i, below): (usize, usize), height: usize) -> (Vec<Line<'a>>, bool) {
        let mut rows: Vec<Line<'a>> = self.block(i).into_iter().rev().skip(below).collect();
        let mut j = i;
        while rows.len() < height && j > 0 {
            j -= 1;
            rows.extend(self.block(j).into_iter().rev());
        }
        rows.truncate(height);
        (rows, j == 0)
    }

    /// The rows on screen, top first, and the position they were drawn at.
    fn screen(&self, height: usize, drawn: &mut Drawn) -> (Vec<Line<'a>>, Scroll) {
        let conv = self.conv;
        if conv.messages.is_empty() {
            drawn.top_reached = true;
            let mut rows = Vec::new();
            if conv.complete {
                rows.push(Line::styled(
                    "No messages yet. Type below and press Enter.",
                    self.theme.dim(),
                ));
            }
            return (rows, Scroll::Newest);
        }
        let mut at = self.start();
        let asked = conv.pending.unsigned_abs();
        if conv.pending > 0 {
            at = self.up(at, asked);
        } else if conv.pending < 0 {
            at = self.down(at, asked);
        }
        let (mut rows, mut top) = self.above(at, height);
        if rows.len() < height && top {
            // Above the oldest message: moved down until the screen is full, if it can be.
            at = self.down(at, height - rows.len());
            (rows, top) = self.above(at, height);
        }
        drawn.top_reached = top;
        rows.reverse();
        let last = conv.messages.len() - 1;
        let scroll = if at == (last, 0) {
            Scroll::Newest
        } else {
            Scroll::At {
                key: self.key(at.0),
                below: at.1,
            }
        };
        (rows, scroll)
    }
}

fn separator(day: i64, theme: &Theme, width: usize) -> Line<'static> {
    let label = format!(" {} UTC ", time::date(day));
    let side = width.saturating_sub(label.len()) / 2;
    Line::styled(
        format!("{}{label}{}", "─".repeat(side), "─".repeat(side)),
        theme.dim(),
    )
}

fn message_rows<'a>(
    m: &'a bramble_store::ConversationMessage,
    name: &str,
    theme: &Theme,
    width: usize,
) -> Vec<Line<'a>> {
    let who = if m.ours { "you" } else { name };
    let head = format!("{} {who}: ", time::clock(m.timestamp));
    let state = match m.delivery {
        Some(DeliveryState::Queued) => Some(("[queued]", theme.dim())),
        Some(DeliveryState::Sent) => Some(("[sent]", theme.fg(Color::Yellow))),
        Some(DeliveryState::Delivered) => Some(("[delivered]", theme.fg(Color::Green))),
        None => None,
    };
    let indent = 6;
    let first_width = width.saturating_sub(text_width(&head)).max(1);
    let rest_width = width.saturating_sub(indent).max(1);
    let pieces = wrap(&m.text, first_width, rest_width);
    let who_style = if m.ours {
        theme.fg(Color::Cyan)
    } else {
        theme.fg(Color::Magenta)
    }
    .add_modifier(Modifier::BOLD);
    let mut out: Vec<Line<'a>> = Vec::with_capacity(pieces.len() + 1);
    for (n, piece) in pieces.into_iter().enumerate() {
        let mut spans = if n == 0 {
            vec![
                Span::styled(time::clock(m.timestamp), theme.dim()),
                Span::raw(" "),
                Span::styled(format!("{who}:"), who_style),
                Span::raw(" "),
            ]
        } else {
            vec![Span::raw(" ".repeat(indent))]
        };
        spans.push(Span::raw(piece));
        out.push(Line::from(spans));
    }
    if let Some((label, style)) = state {
        let last_width = out.last().map_or(0, Line::width);
        if last_width + 1 + label.len() <= width {
            if let Some(l) = out.last_mut() {
                l.push_span(Span::raw(" "));
                l.push_span(Span::styled(label, style));
            }
        } else {
            out.push(Line::from(vec![
                Span::raw(" ".repeat(indent)),
                Span::styled(label, style),
            ]));
        }
    }
    out
}

fn compose_rows(app: &App, width: u16) -> u16 {
    let w = usize::from(width).max(1);
    let rows = wrap_chars(&app.compose.text, w).len().clamp(1, 4);
    to_u16(rows + usize::from(app.compose.error.is_some()))
}

fn draw_compose(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let focused = app.focus == Focus::Compose && !app.help;
    let c = &app.compose;
    let title = match app.open_contact() {
        Some(contact) => format!(" Message to {} ", contact.name),
        None => String::from(" Message "),
    };
    let mut block = Block::bordered().title(title).border_style(if focused {
        theme.fg(Color::Cyan)
    } else {
        theme.dim()
    });
    if c.text.len() >= COUNTER_FROM {
        let style = if c.text.len() > MAX_TEXT_LEN {
            theme.error()
        } else {
            theme.fg(Color::Yellow)
        };
        block = block.title_top(
            Line::styled(format!(" {} / {MAX_TEXT_LEN} ", c.text.len()), style).right_aligned(),
        );
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width).max(1);
    let text_rows = usize::from(inner.height).saturating_sub(usize::from(c.error.is_some()));
    let all = wrap_chars(&c.text, width);
    let before = wrap_chars(&c.text[..c.cursor], width);
    let (mut cursor_row, mut cursor_col) = (
        before.len().saturating_sub(1),
        before.last().map_or(0, |l| text_width(l)),
    );
    if cursor_col >= width {
        cursor_row += 1;
        cursor_col = 0;
    }
    let first = (cursor_row + 1).saturating_sub(text_rows.max(1));
    let mut lines: Vec<Line<'_>> = if c.text.is_empty() && !focused {
        vec![Line::styled(
            if app.conversation.is_some() {
                "Press Enter on a contact to type."
            } else {
                ""
            },
            theme.dim(),
        )]
    } else {
        all.into_iter()
            .skip(first)
            .take(text_rows)
            .map(Line::from)
            .collect()
    };
    if let Some(e) = &c.error {
        while lines.len() < text_rows {
            lines.push(Line::from(""));
        }
        lines.push(Line::styled(e.clone(), theme.error()));
    }
    frame.render_widget(Paragraph::new(lines), inner);
    if focused {
        frame.set_cursor_position(Position::new(
            inner.x + to_u16(cursor_col),
            inner.y + to_u16(cursor_row - first),
        ));
    }
}

fn status_text(status: &Status) -> String {
    match status {
        Status::Stopped => String::from("off"),
        Status::Starting { percent, .. } => format!("starting {percent}%"),
        Status::Up => String::from("up"),
        Status::Limited(why) => format!("limited ({why})"),
        Status::Down(why) => format!("down ({why})"),
    }
}

/// The status bar's left part: our name, each transport, the folder. `compact` leaves
/// out what a narrow terminal has no room for (the folder's path, reasons, the word
/// "connected").
fn status_spans<'a>(app: &'a App, theme: &Theme, compact: bool) -> Vec<Span<'a>> {
    let mut spans: Vec<Span<'_>> = vec![Span::styled(
        format!(" {} ", app.nickname),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    if app.transports.is_empty() {
        spans.push(Span::styled("· offline ", theme.fg(Color::Yellow)));
    }
    for (t, status) in &app.transports {
        let style = match status {
            Status::Up => theme.fg(Color::Green),
            Status::Down(_) => theme.fg(Color::Red),
            _ => theme.fg(Color::Yellow),
        };
        let state = match (status, compact) {
            (Status::Starting { percent, .. }, true) => format!("{percent}%"),
            (Status::Limited(_), true) => String::from("limited"),
            (Status::Down(_), true) => String::from("down"),
            _ => status_text(status),
        };
        let mut text = format!("· {}: {state}", transport_name(t));
        if let Some((seen, connected)) = app.nearby.get(t) {
            if compact {
                text.push_str(&format!(", {connected}/{seen} near"));
            } else {
                text.push_str(&format!(", {seen} near, {connected} connected"));
            }
        }
        text.push(' ');
        spans.push(Span::styled(text, style));
    }
    if let Some(f) = &app.folder {
        let (state, style) = match &f.state {
            FolderState::Unknown => (String::from("…"), theme.dim()),
            FolderState::Absent => (String::from("not there"), theme.fg(Color::Yellow)),
            FolderState::Syncing => (String::from("syncing"), theme.fg(Color::Yellow)),
            FolderState::Synced(t) => (
                format!("synced {}", time::short(*t, app.now)),
                theme.fg(Color::Green),
            ),
            FolderState::Failed(_) => (String::from("failed"), theme.fg(Color::Red)),
        };
        let text = if compact {
            format!("· files: {state} ")
        } else {
            let shown = tail_fit(&f.path.display().to_string(), 24);
            format!("· files {shown}: {state} ")
        };
        spans.push(Span::styled(text, style));
    }
    spans
}

fn draw_status(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let right = match &app.notice {
        Some((text, _)) => Span::styled(format!(" {text} "), theme.error()),
        None => Span::styled(" ? help ", theme.dim()),
    };
    let right_width = to_u16(right.width());
    let [l, r] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(right_width)]).areas(area);
    let mut left = Line::from(status_spans(app, theme, false));
    if left.width() > usize::from(l.width) {
        left = Line::from(status_spans(app, theme, true));
    }
    frame.render_widget(Paragraph::new(left), l);
    frame.render_widget(Paragraph::new(Line::from(right)), r);
}

/// The border of a screen that takes the place of the main one; its inside, unless too
/// small to write in.
fn screen_frame(title: &str, theme: &Theme, frame: &mut Frame<'_>, area: Rect) -> Option<Rect> {
    let block = Block::bordered()
        .title(title.to_owned())
        .border_style(theme.fg(Color::Cyan));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    (inner.width >= 8 && inner.height > 0).then_some(inner)
}

fn draw_add(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let Some(inner) = screen_frame(" Add a contact ", theme, frame, area) else {
        return;
    };
    let width = usize::from(inner.width);
    let add = &app.add;
    let mut lines: Vec<Line<'_>> = vec![Line::styled(
        "Your link: send it to them over any channel (select it to copy).",
        theme.dim(),
    )];
    match &app.own_link {
        Some(link) => lines.extend(
            wrap_chars(link, width)
                .into_iter()
                .map(|l| Line::styled(l, theme.fg(Color::Yellow))),
        ),
        None => lines.push(Line::styled("…", theme.dim())),
    }
    lines.push(Line::raw(""));
    let mut cursor = None;
    for (label, field, on) in [
        ("Their link:", &add.link, !add.on_name),
        ("Name for them (only you see it):", &add.name, add.on_name),
    ] {
        let view = field_view(field, width.saturating_sub(2));
        push_field(&mut lines, label, view, on, theme, &mut cursor);
        if let Some(e) = &field.error {
            lines.extend(error_lines(e, width, theme));
        }
    }
    let hint = if add.busy {
        "Adding…"
    } else {
        "Enter: next / add · Tab: other field · F2: QR code · Esc: back"
    };
    lines.push(Line::styled(hint, theme.dim()));
    lines.push(Line::raw(""));
    if app.pending.is_empty() {
        lines.push(Line::styled("No links waiting.", theme.dim()));
    } else {
        lines.push(Line::from(
            "Waiting: a link becomes a contact when you both added each other and meet",
        ));
        lines.push(Line::styled(
            "Ctrl+N / Ctrl+P: choose one · Ctrl+D: remove it",
            theme.dim(),
        ));
        for p in &app.pending {
            let chosen = app.add.selected == Some(p.id);
            let (state, style) = match &p.state {
                PendingState::Waiting => ("waiting for them", theme.fg(Color::Yellow)),
                PendingState::AwaitingInfo => ("connecting", theme.fg(Color::Cyan)),
                PendingState::Completed(_) => ("added", theme.fg(Color::Green)),
                PendingState::Failed(_) => ("failed", theme.error()),
                PendingState::Expired => ("expired", theme.error()),
            };
            let left = time_left(app.now, p.expires_at);
            let name_width = width.saturating_sub(20 + left.len() + 2).clamp(1, 32);
            let name = fit(&p.alias, name_width);
            let pad = name_width.saturating_sub(text_width(&name));
            let (mark, name_style) = if chosen {
                ("› ", Style::new().add_modifier(Modifier::REVERSED))
            } else {
                ("  ", Style::new())
            };
            lines.push(Line::from(vec![
                Span::raw(mark),
                Span::styled(name.clone(), name_style),
                Span::raw(format!("{} ", " ".repeat(pad))),
                Span::styled(format!("{state:<18}"), style),
                Span::styled(left, theme.dim()),
            ]));
            if let PendingState::Failed(why) = &p.state {
                let why = format!("{why}; still trying, or remove it and add their link again");
                lines.extend(
                    wrap(&why, width.saturating_sub(4), width.saturating_sub(4))
                        .into_iter()
                        .map(|l| Line::styled(format!("    {l}"), theme.dim())),
                );
            }
        }
    }
    let rows = usize::from(inner.height);
    frame.render_widget(Paragraph::new(lines), inner);
    if let Some((row, col)) = cursor.filter(|(row, _)| *row < rows) {
        frame.set_cursor_position(Position::new(
            inner.x + to_u16(col).min(inner.width.saturating_sub(1)),
            inner.y + to_u16(row),
        ));
    }
}

/// Our link as a QR code, in the middle of the screen, or why it does not fit.
fn draw_qr(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let Some(inner) = screen_frame(" Your link as a QR code ", theme, frame, area) else {
        return;
    };
    let width = usize::from(inner.width);
    let Some(link) = &app.own_link else {
        frame.render_widget(Paragraph::new(Line::styled("…", theme.dim())), inner);
        return;
    };
    let caption = "It holds your link and nothing else. Any key: back";
    let code = super::qr::rows(link).unwrap_or_default();
    let code_width = code.first().map_or(0, |r| text_width(r));
    let mut lines: Vec<Line<'_>> = Vec::new();
    if code.is_empty() || code_width > width || code.len() + 1 > usize::from(inner.height) {
        let why = format!(
            "The code needs {} columns and {} rows: make the terminal bigger, or send the \
             link as text (Esc: back).",
            code_width + 2,
            code.len() + 4
        );
        lines.extend(wrap(&why, width, width).into_iter().map(Line::from));
        frame.render_widget(Paragraph::new(lines), inner);
        return;
    }
    // Light ink on black whatever the terminal's colours, when colours are allowed.
    let ink = if theme.color {
        Style::new().fg(Color::White).bg(Color::Black)
    } else {
        Style::new()
    };
    let pad = " ".repeat((width - code_width) / 2);
    let top = (usize::from(inner.height) - code.len() - 1) / 2;
    lines.extend(std::iter::repeat_n(Line::raw(""), top));
    for row in code {
        lines.push(Line::from(vec![
            Span::raw(pad.clone()),
            Span::styled(row, ink),
        ]));
    }
    let caption = fit(caption, width);
    let cpad = " ".repeat(width.saturating_sub(text_width(&caption)) / 2);
    lines.push(Line::styled(format!("{cpad}{caption}"), theme.dim()));
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_verify(app: &App, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let contact = app.verify_contact();
    let name = contact.map_or("?", |c| c.name.as_str());
    let verified = contact.is_some_and(|c| c.verified);
    let Some(inner) = screen_frame(&format!(" Verify {name} "), theme, frame, area) else {
        return;
    };
    let width = usize::from(inner.width);
    let mut lines: Vec<Line<'_>> = Vec::new();
    let intro = format!(
        "Compare this safety number with the one {name}'s Thicket shows, side by side in \
         person or read out on a call you trust. You both see the same number."
    );
    lines.extend(wrap(&intro, width, width).into_iter().map(Line::from));
    lines.push(Line::raw(""));
    match app.verifying.as_ref().and_then(|v| v.number.as_deref()) {
        Some(number) => {
            let groups: Vec<&str> = number.split(' ').collect();
            // Four groups a row (three rows) where it fits, else two.
            let per_row = if width >= 4 * 6 + 2 { 4 } else { 2 };
            for row in groups.chunks(per_row) {
                let text = row.join(" ");
                let pad = width.saturating_sub(text.len()) / 2;
                lines.push(Line::from(vec![
                    Span::raw(" ".repeat(pad)),
                    Span::styled(text, theme.fg(Color::Yellow).add_modifier(Modifier::BOLD)),
                ]));
            }
        }
        None => lines.push(Line::styled("…", theme.dim())),
    }
    lines.push(Line::raw(""));
    if verified {
        lines.push(Line::styled(
            format!("✓ {name} is verified."),
            theme.fg(Color::Green),
        ));
        lines.push(Line::styled(
            "u: no longer verified · Esc: back",
            theme.dim(),
        ));
    } else {
        lines.push(Line::from(format!("{name} is not verified.")));
        lines.push(Line::styled(
            "m: the numbers match, mark verified · Esc: back",
            theme.dim(),
        ));
        let warning = "If they differ, do not mark it: someone may stand between you. Add \
                       each other again over a channel you trust.";
        lines.extend(
            wrap(warning, width, width)
                .into_iter()
                .map(|l| Line::styled(l, theme.dim())),
        );
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// Draws the first screen: creating the account, or unlocking it.
pub(crate) fn draw_gate(gate: &Gate, frame: &mut Frame<'_>) {
    let theme = Theme { color: gate.color };
    let full = frame.area();
    // A form, not a page: at most 78 columns, centred.
    let width = full.width.min(78);
    let w = usize::from(width.saturating_sub(2));
    let intro = match gate.kind {
        GateKind::Create => {
            "Thicket keeps your contacts and messages on this computer only, encrypted with \
             a password that only you know. Nobody can recover a lost password."
        }
        GateKind::Unlock => "Type your password to open your contacts and messages.",
    };
    let mut lines: Vec<Line<'_>> = wrap(intro, w, w).into_iter().map(Line::from).collect();
    lines.extend(
        wrap(&format!("Folder: {}", gate.place), w, w)
            .into_iter()
            .map(|l| Line::styled(l, theme.dim())),
    );
    lines.push(Line::raw(""));
    let mut cursor = None;
    let fields: &[GateField] = match gate.kind {
        GateKind::Create => &[GateField::Name, GateField::Password, GateField::Again],
        GateKind::Unlock => &[GateField::Password],
    };
    for field in fields {
        let on = gate.field == *field;
        let (label, (shown, col), error) = match field {
            GateField::Name => (
                "Your nickname (contacts see it when they add you):",
                field_view(&gate.name, w.saturating_sub(2)),
                gate.name.error.as_deref(),
            ),
            GateField::Password => (
                "Password:",
                masked_view(&gate.password, w.saturating_sub(2)),
                gate.password.error(),
            ),
            GateField::Again => (
                "The password again:",
                masked_view(&gate.again, w.saturating_sub(2)),
                gate.again.error(),
            ),
        };
        push_field(&mut lines, label, (shown, col), on, &theme, &mut cursor);
        if *field == GateField::Password
            && let Some(s) = gate
                .strength
                .as_ref()
                .filter(|_| gate.kind == GateKind::Create)
        {
            let style = match s.score {
                0 | 1 => theme.fg(Color::Red),
                2 => theme.fg(Color::Yellow),
                _ => theme.fg(Color::Green),
            };
            let filled = usize::from(s.score.min(4));
            let bar = format!("{}{}", "■".repeat(filled), "□".repeat(4 - filled));
            lines.push(Line::from(vec![
                Span::raw("  Strength: "),
                Span::styled(format!("{bar} {}", s.label()), style),
                Span::styled(
                    format!(" · {} to guess from your files", s.guess_time),
                    theme.dim(),
                ),
            ]));
            if let Some(advice) = &s.advice {
                lines.extend(
                    wrap(advice, w.saturating_sub(2), w.saturating_sub(2))
                        .into_iter()
                        .map(|l| Line::styled(format!("  {l}"), theme.fg(Color::Yellow))),
                );
            }
        }
        if let Some(e) = error {
            lines.extend(error_lines(e, w, &theme));
        }
    }
    lines.push(Line::raw(""));
    if let Some(e) = &gate.error {
        lines.extend(
            wrap(e, w, w)
                .into_iter()
                .map(|l| Line::styled(l, theme.error())),
        );
    }
    let hint = match (gate.quitting, gate.busy, gate.kind) {
        (true, _, _) => "Stopping…",
        (false, true, GateKind::Create) => {
            "Creating your account… (the password is stretched to be slow to guess)"
        }
        (false, true, GateKind::Unlock) => "Unlocking…",
        (false, false, GateKind::Create) => {
            "Enter: next / create · Tab: other field · Ctrl+C: quit"
        }
        (false, false, GateKind::Unlock) => "Enter: unlock · Ctrl+C: quit",
    };
    lines.push(Line::styled(hint, theme.dim()));
    // As tall as what it says, in the middle of a big terminal.
    let height = to_u16(lines.len() + 2).min(full.height);
    let area = Rect {
        x: full.x + (full.width - width) / 2,
        y: full.y + (full.height - height) / 2,
        width,
        height,
    };
    let title = match gate.kind {
        GateKind::Create => " Thicket: create your account ",
        GateKind::Unlock => " Thicket: unlock your account ",
    };
    let Some(inner) = screen_frame(title, &theme, frame, area) else {
        return;
    };
    let rows = usize::from(inner.height);
    frame.render_widget(Paragraph::new(lines), inner);
    if let Some((row, col)) = cursor.filter(|(row, _)| *row < rows && !gate.busy) {
        frame.set_cursor_position(Position::new(
            inner.x + to_u16(col).min(inner.width.saturating_sub(1)),
            inner.y + to_u16(row),
        ));
    }
}

/// A labelled single-line field: the label, then the text after a marker (`›` when it
/// has the cursor, which then goes at `col` on that row).
fn push_field<'a>(
    lines: &mut Vec<Line<'a>>,
    label: &'a str,
    (shown, col): (String, usize),
    on: bool,
    theme: &Theme,
    cursor: &mut Option<(usize, usize)>,
) {
    lines.push(Line::from(label));
    if on {
        *cursor = Some((lines.len(), col + 2));
    }
    let marker = if on { "› " } else { "  " };
    lines.push(Line::from(vec![
        Span::styled(marker, theme.fg(Color::Cyan)),
        Span::raw(shown),
    ]));
}

/// A field's error, under it, indented like its text.
fn error_lines(why: &str, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    wrap(why, width.saturating_sub(2), width.saturating_sub(2))
        .into_iter()
        .map(|l| Line::styled(format!("  {l}"), theme.error()))
        .collect()
}

/// A password field as dots, one per character, with the cursor's column.
fn masked_view(field: &Secret, width: usize) -> (String, usize) {
    let (chars, before) = field.shape();
    let dots = Compose {
        text: "•".repeat(chars),
        cursor: before * '•'.len_utf8(),
        error: None,
    };
    field_view(&dots, width)
}

/// A single-line field's text as it fits in `width` columns with the cursor in view,
/// and the cursor's column.
fn field_view(field: &Compose, width: usize) -> (String, usize) {
    let before = &field.text[..field.cursor];
    let mut skip = 0;
    let mut col = text_width(before);
    let mut chars = before.chars();
    while col >= width.max(1) {
        let Some(c) = chars.next() else { break };
        col -= c.width().unwrap_or(1);
        skip += c.len_utf8();
    }
    let mut shown = String::new();
    let mut w = 0;
    for c in field.text[skip..].chars() {
        let cw = c.width().unwrap_or(1);
        if w + cw > width {
            break;
        }
        shown.push(c);
        w += cw;
    }
    (shown, col)
}

/// How long until `expires`, roughly: days and hours, hours and minutes, or minutes.
pub(crate) fn time_left(now: Timestamp, expires: Timestamp) -> String {
    let ms = expires.as_millis().saturating_sub(now.as_millis());
    let minutes = ms / 60_000;
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours) {
        _ if ms == 0 => String::from("expired"),
        (0, 0) => format!("{}m left", mins.max(1)),
        (0, h) => format!("{h}h {mins}m left"),
        (d, h) => format!("{d}d {h}h left"),
    }
}

/// Asks before a removal: what goes, and that only `y` removes.
fn draw_removal(r: &Removal, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let width = area.width.min(60);
    let inner = usize::from(width.saturating_sub(2));
    let what = match r.target {
        Target::Contact(_) => {
            "Your conversation with them and the keys you share are deleted from this \
             device. They are not told. To talk again, you both add each other's link \
             anew."
        }
        Target::Pending(_) => {
            "The link you added and its handshake secrets are deleted from this device. \
             You can add the link again."
        }
    };
    let mut lines: Vec<Line<'_>> = wrap(what, inner, inner)
        .into_iter()
        .map(Line::raw)
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled("y", theme.error()),
        Span::raw(": remove · any other key: keep"),
    ]));
    let at = centred(area, width, to_u16(lines.len() + 2));
    let title = format!(" Remove {}? ", fit(&r.name, inner.saturating_sub(10)));
    frame.render_widget(Clear, at);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        at,
    );
}

/// A box of at most `width` × `height` in the middle of `area`.
fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let (width, height) = (width.min(area.width), height.min(area.height));
    Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    )
}

fn draw_help(theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let at = centred(area, 62, to_u16(KEYS.len() + 4));
    let mut lines: Vec<Line<'_>> = KEYS
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!("{k:>16}  "), theme.fg(Color::Cyan)),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::styled(
        "[queued] not sent · [sent] on its way · [delivered] arrived",
        theme.dim(),
    ));
    frame.render_widget(Clear, at);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Keys — any key closes ")),
        at,
    );
}

fn to_u16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// Display width of a string (tabs count as one column; they are shown as spaces).
fn text_width(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(1)).sum()
}

/// The end of `s` in `width` columns, with an ellipsis before it when cut: the end of
/// a path says most.
fn tail_fit(s: &str, width: usize) -> String {
    if text_width(s) <= width {
        return s.to_owned();
    }
    let mut kept = Vec::new();
    let mut w = 0;
    for c in s.chars().rev() {
        let cw = c.width().unwrap_or(1);
        if w + cw + 1 > width {
            break;
        }
        kept.push(c);
        w += cw;
    }
    std::iter::once('…').chain(kept.into_iter().rev()).collect()
}

/// `s` cut to `width` columns, with an ellipsis when cut.
fn fit(s: &str, width: usize) -> String {
    if text_width(s) <= width {
        return s.to_owned();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(1);
        if w + cw + 1 > width {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

/// Wraps at any character: the compose line, where the cursor must map to a row.
pub(crate) fn wrap_chars(text: &str, width: usize) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut w = 0;
    for c in text.chars() {
        if c == '\n' {
            out.push(String::new());
            w = 0;
            continue;
        }
        let c = if c == '\t' { ' ' } else { c };
        let cw = c.width().unwrap_or(1);
        if w + cw > width && w > 0 {
            out.push(String::new());
            w = 0;
        }
        if let Some(l) = out.last_mut() {
            l.push(c);
        }
        w += cw;
    }
    out
}

/// Wraps a message at spaces where it can: the first row `first` columns wide, the
/// others `rest`.
pub(crate) fn wrap(text: &str, first: usize, rest: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        let mut w = 0;
        let limit = |out: &Vec<String>| if out.is_empty() { first } else { rest };
        for word in para.split_inclusive(' ') {
            let word = word.replace('\t', " ");
            let ww = text_width(&word);
            // A space at the end of a row is not shown: only the word must fit.
            if w + text_width(word.trim_end()) > limit(&out) && w > 0 {
                out.push(std::mem::take(&mut line).trim_end().to_owned());
                w = 0;
            }
            if ww > limit(&out) {
                // A word longer than a row: cut it.
                for c in word.chars() {
                    let cw = c.width().unwrap_or(1);
                    if w + cw > limit(&out) && w > 0 {
                        out.push(std::mem::take(&mut line));
                        w = 0;
                    }
                    line.push(c);
                    w += cw;
                }
            } else {
                line.push_str(&word);
                w += ww;
            }
        }
        out.push(line.trim_end().to_owned());
    }
    out
}
