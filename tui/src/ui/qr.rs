//! Our link as a QR code, drawn with half blocks: one character cell holds two modules,
//! one above the other, so the code is about as tall as it is wide.

use qrcode::{Color, EcLevel, QrCode};

/// Light modules around the code, as the standard asks.
const QUIET: usize = 4;

/// The rows of `link`'s QR code, quiet zone included. The *light* modules are the ink
/// (`█`, `▀`, `▄`) and the dark ones blank, so that light text on a dark background
/// reads as a code; the view also sets those colours when it may. `None` if the text
/// does not fit in a QR code.
pub(crate) fn rows(link: &str) -> Option<Vec<String>> {
    // Upper case fits QR's alphanumeric mode, a smaller code; links are read in either
    // case. Level L: a screen is not a scratched sticker.
    let code = QrCode::with_error_correction_level(link.to_uppercase(), EcLevel::L).ok()?;
    let n = code.width();
    let size = n + 2 * QUIET;
    let light = |x: usize, y: usize| {
        if y >= size {
            // Below the quiet zone: nothing.
            return false;
        }
        let inside = (QUIET..QUIET + n).contains(&x) && (QUIET..QUIET + n).contains(&y);
        !inside || code[(x - QUIET, y - QUIET)] == Color::Light
    };
    Some(
        (0..size)
            .step_by(2)
            .map(|y| {
                (0..size)
                    .map(|x| match (light(x, y), light(x, y + 1)) {
                        (true, true) => '█',
                        (true, false) => '▀',
                        (false, true) => '▄',
                        (false, false) => ' ',
                    })
                    .collect()
            })
            .collect(),
    )
}
