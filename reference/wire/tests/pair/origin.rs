//! Upstream servers as the simulated node sees them: what each answers to a write, what it
//! sends on its own, and when it closes. Time is an offset from the event that caused it.

use std::rc::Rc;
use std::time::Duration;

/// One answer part: `bytes` arrive `after` the write (or the connect) that caused them.
pub type Part = (Duration, Vec<u8>);

/// What an upstream answers to one write.
pub type Answer = Rc<dyn Fn(&[u8]) -> Vec<Part>>;

/// A scripted upstream.
#[derive(Clone)]
pub struct Origin {
    /// What it answers to each write.
    pub answer: Answer,
    /// What it sends on its own after the connect.
    pub pushes: Vec<Part>,
    /// When (after the connect) it closes its side.
    pub eof_after: Option<Duration>,
}

impl Origin {
    /// Records what it gets and never answers.
    pub fn sink() -> Self {
        Self {
            answer: Rc::new(|_| Vec::new()),
            pushes: Vec::new(),
            eof_after: None,
        }
    }

    /// Echoes every write after `delay`.
    pub fn echo(delay: Duration) -> Self {
        Self {
            answer: Rc::new(move |b| vec![(delay, b.to_vec())]),
            ..Self::sink()
        }
    }

    /// Answers every write with these parts.
    pub fn answering(parts: &[(Duration, &[u8])]) -> Self {
        let parts: Vec<Part> = parts.iter().map(|(d, b)| (*d, b.to_vec())).collect();
        Self {
            answer: Rc::new(move |_| parts.clone()),
            ..Self::sink()
        }
    }

    /// Sends these parts after the connect, and answers nothing.
    pub fn pushing(parts: &[(Duration, &[u8])]) -> Self {
        Self {
            pushes: parts.iter().map(|(d, b)| (*d, b.to_vec())).collect(),
            ..Self::sink()
        }
    }

    /// Closes its side this long after the connect.
    pub fn then_eof(mut self, after: Duration) -> Self {
        self.eof_after = Some(after);
        self
    }
}
