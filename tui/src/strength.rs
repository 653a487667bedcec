//! How strong a new password is (zxcvbn), and the least that is accepted.

/// The lowest strength a new password may have: zxcvbn's score 3, "safely unguessable"
/// (more than 10^8 guesses). The password is all that protects the store on a taken
/// computer, against guessing offline, so lower scores are refused.
pub(crate) const MIN_SCORE: u8 = 3;

/// Only so many characters are estimated (zxcvbn's cost grows with the length); a
/// longer password is at least as strong as its start.
const ESTIMATED_CHARS: usize = 100;

/// How strong a new password is, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Strength {
    /// zxcvbn's score, 0 (guessed at once) to 4.
    pub(crate) score: u8,
    /// What to do about it, when it is too weak.
    pub(crate) advice: Option<String>,
    /// Roughly how long guessing it would take at 10,000 guesses a second.
    pub(crate) guess_time: String,
}

impl Strength {
    /// Strong enough to be accepted.
    pub(crate) fn enough(&self) -> bool {
        self.score >= MIN_SCORE
    }

    /// One word for the score.
    pub(crate) fn label(&self) -> &'static str {
        match self.score {
            0 => "very weak",
            1 => "weak",
            2 => "fair, still too easy to guess",
            3 => "good",
            _ => "strong",
        }
    }
}

/// Estimates a new password's strength; `name` (the account's nickname) counts as known
/// to an attacker. zxcvbn works on copies of the password that it frees without
/// wiping; they stay in this process's memory only, never in a file or a log.
pub(crate) fn strength(password: &str, name: &str) -> Strength {
    let end = password
        .char_indices()
        .nth(ESTIMATED_CHARS)
        .map_or(password.len(), |(i, _)| i);
    let inputs: Vec<&str> = name.split_whitespace().chain([name]).collect();
    let entropy = zxcvbn::zxcvbn(&password[..end], &inputs);
    let score = u8::from(entropy.score());
    let advice = (score < MIN_SCORE).then(|| {
        let mut words: Vec<String> = Vec::new();
        if let Some(feedback) = entropy.feedback() {
            words.extend(feedback.warning().map(|w| w.to_string()));
            words.extend(feedback.suggestions().iter().map(ToString::to_string));
        }
        if words.is_empty() {
            words.push(String::from(
                "Add another word or two. Uncommon words are better.",
            ));
        }
        words.join(" ")
    });
    Strength {
        score,
        advice,
        guess_time: entropy
            .crack_times()
            .offline_slow_hashing_1e4_per_second()
            .to_string(),
    }
}

/// Refuses a new password that is empty or too easy to guess, saying what to do.
pub(crate) fn check_new(password: &str, name: &str) -> Result<(), String> {
    if password.is_empty() {
        return Err(String::from("the password is empty"));
    }
    let s = strength(password, name);
    match &s.advice {
        Some(advice) if !s.enough() => Err(format!(
            "the password is too easy to guess ({}; it would be guessed in {} by \
             someone who has your files): {advice}",
            s.label(),
            s.guess_time
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{MIN_SCORE, check_new, strength};

    #[test]
    fn weak_passwords_are_refused_with_advice_and_strong_ones_pass() {
        for weak in ["password", "123456", "qwertyuiop", "alex2024", "Alex Alex"] {
            let s = strength(weak, "Alex");
            assert!(s.score < MIN_SCORE, "{weak}: {s:?}");
            assert!(s.advice.is_some(), "{weak}");
            let e = check_new(weak, "Alex").unwrap_err();
            assert!(e.contains("too easy to guess"), "{e}");
        }
        for strong in [
            "correct horse battery staple",
            "alice has a long password",
            "tX9#vQ2!mLp7",
        ] {
            let s = strength(strong, "Alex");
            assert!(s.enough(), "{strong}: {s:?}");
            assert!(s.advice.is_none());
            check_new(strong, "Alex").unwrap();
        }
        assert_eq!(check_new("", "Alex").unwrap_err(), "the password is empty");
    }

    #[test]
    fn the_nickname_counts_as_known() {
        let alone = strength("Margarethe1987", "Sam");
        let named = strength("Margarethe1987", "Margarethe");
        assert!(named.score < alone.score, "{alone:?} {named:?}");
    }

    #[test]
    fn very_long_passwords_are_estimated_quickly_and_never_split_a_character() {
        let long = "ü".repeat(10_000);
        let s = strength(&long, "Alex");
        assert!(s.score <= 4);
    }
}
