//! Where the password comes from: the terminal, a file, or a file descriptor. Never
//! an argument or the environment, which other users of the machine can read.

use std::fs;
use std::path::Path;

use zeroize::Zeroizing;

use crate::cli::Global;
use crate::failure::Failure;

/// The first line of `text`, without its line ending.
fn first_line(text: &str) -> &str {
    text.split(['\n', '\r']).next().unwrap_or_default()
}

fn from_file(path: &Path, what: &str) -> Result<Zeroizing<String>, Failure> {
    let text = Zeroizing::new(
        fs::read_to_string(path)
            .map_err(|e| format!("cannot read the password from {what}: {e}"))?,
    );
    let line = Zeroizing::new(first_line(&text).to_owned());
    if line.is_empty() {
        return Err(format!("the password in {what} is empty").into());
    }
    Ok(line)
}

/// Reads the password; asks twice on a terminal when `confirm` (a new password).
pub(crate) fn read(global: &Global, confirm: bool) -> Result<Zeroizing<String>, Failure> {
    if let Some(path) = &global.password_file {
        return from_file(path, &path.display().to_string());
    }
    if let Some(fd) = global.password_fd {
        return from_file(
            Path::new(&format!("/dev/fd/{fd}")),
            &format!("file descriptor {fd}"),
        );
    }
    let ask = |prompt: &str| {
        rpassword::prompt_password(prompt).map(Zeroizing::new).map_err(|_| {
            Failure::from("cannot ask for the password: no terminal (use --password-file or --password-fd)")
        })
    };
    let password = ask(if confirm {
        "New password: "
    } else {
        "Password: "
    })?;
    if password.is_empty() {
        return Err("the password is empty".into());
    }
    if confirm && *ask("Again: ")? != *password {
        return Err("the passwords differ".into());
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::first_line;

    #[test]
    fn first_lines() {
        assert_eq!(first_line("secret\n"), "secret");
        assert_eq!(first_line("secret\r\nmore"), "secret");
        assert_eq!(first_line("with spaces "), "with spaces ");
        assert_eq!(first_line(""), "");
    }
}
