//! Recorded answers, for a vendor's harness: `homeroom plugin run --record
//! DIR` keeps every answer the connection got (after retries and
//! redirects, as the plugin saw it) in DIR, and `--replay DIR` answers the
//! same requests from there, offline and without credentials.
//!
//! A request is known by its method, URL and body (a digest of the three
//! names its file, `DIR/<digest>.json`); one asked several times is
//! answered in the order it was recorded, the last answer again after
//! that. Only what the plugin saw is kept: no request headers (the
//! connection's credentials are never in a recording), no `Set-Cookie`.
//! What it must not do: decide anything about hosts or credentials; the
//! connection checks a replayed request's URL as it checks a sent one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{HttpError, InboundResponse, OutboundRequest};

/// Whether a connection records its answers or replays them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TapeMode {
    Record(PathBuf),
    Replay(PathBuf),
}

/// A folder of recorded answers, in use by one connection.
#[derive(Debug)]
pub struct Tape {
    mode: TapeMode,
    /// Answers handed out per request file, when replaying.
    played: Mutex<HashMap<String, usize>>,
}

#[derive(Serialize, Deserialize)]
struct Recording {
    method: String,
    url: String,
    answers: Vec<Answer>,
}

#[derive(Serialize, Deserialize)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    /// The body as text when it is UTF-8 (a JSON answer stays readable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body_hex: Option<String>,
}

impl Tape {
    pub fn new(mode: TapeMode) -> Result<Tape, HttpError> {
        match &mode {
            TapeMode::Record(dir) => std::fs::create_dir_all(dir).map_err(|e| {
                HttpError::Invalid(format!(
                    "cannot make the recording folder {}: {e}",
                    dir.display()
                ))
            })?,
            TapeMode::Replay(dir) if !dir.is_dir() => {
                return Err(HttpError::Invalid(format!(
                    "there is no recording in {}: record one first with --record {}",
                    dir.display(),
                    dir.display()
                )));
            }
            TapeMode::Replay(_) => {}
        }
        Ok(Tape {
            mode,
            played: Mutex::new(HashMap::new()),
        })
    }

    pub fn replays(&self) -> bool {
        matches!(self.mode, TapeMode::Replay(_))
    }

    fn dir(&self) -> &Path {
        match &self.mode {
            TapeMode::Record(d) | TapeMode::Replay(d) => d,
        }
    }

    fn file(&self, request: &OutboundRequest) -> (String, PathBuf) {
        let mut digest = Sha256::new();
        digest.update(request.method.as_str());
        digest.update([0]);
        digest.update(request.url.trim());
        digest.update([0]);
        digest.update(request.body.as_deref().unwrap_or_default());
        let name = hex::encode(&digest.finalize()[..12]);
        let path = self.dir().join(format!("{name}.json"));
        (name, path)
    }

    /// The recorded answer to `request`.
    pub fn replay(&self, request: &OutboundRequest) -> Result<InboundResponse, HttpError> {
        let (name, path) = self.file(request);
        let missing = || {
            HttpError::Connection(format!(
                "{} {} was not recorded in {}: record it with --record against the API",
                request.method.as_str(),
                request.url,
                self.dir().display()
            ))
        };
        let text = std::fs::read_to_string(&path).map_err(|_| missing())?;
        let recording: Recording = serde_json::from_str(&text).map_err(|e| {
            HttpError::Invalid(format!(
                "the recording {} cannot be read ({e}): record it again",
                path.display()
            ))
        })?;
        let mut played = self.played.lock().unwrap_or_else(|p| p.into_inner());
        let n = played.entry(name).or_default();
        let answer = recording
            .answers
            .get(*n)
            .or(recording.answers.last())
            .ok_or_else(missing)?;
        *n += 1;
        let body = match (&answer.body, &answer.body_hex) {
            (Some(text), _) => text.clone().into_bytes(),
            (None, Some(h)) => hex::decode(h).map_err(|_| {
                HttpError::Invalid(format!(
                    "the recording {} is damaged: record it again",
                    path.display()
                ))
            })?,
            (None, None) => Vec::new(),
        };
        Ok(InboundResponse {
            status: answer.status,
            headers: answer.headers.clone(),
            body,
        })
    }

    /// Keep `answer` as the next answer to `request`.
    pub fn record(&self, request: &OutboundRequest, answer: &InboundResponse) {
        let (_, path) = self.file(request);
        let _guard = self.played.lock().unwrap_or_else(|p| p.into_inner());
        let mut recording = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str::<Recording>(&t).ok())
            .unwrap_or_else(|| Recording {
                method: request.method.as_str().to_string(),
                url: request.url.trim().to_string(),
                answers: Vec::new(),
            });
        let (body, body_hex) = match String::from_utf8(answer.body.clone()) {
            Ok(text) => (Some(text), None),
            Err(_) => (None, Some(hex::encode(&answer.body))),
        };
        recording.answers.push(Answer {
            status: answer.status,
            headers: answer
                .headers
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("set-cookie"))
                .cloned()
                .collect(),
            body,
            body_hex,
        });
        let written = serde_json::to_vec_pretty(&recording)
            .map_err(|e| e.to_string())
            .and_then(|bytes| std::fs::write(&path, bytes).map_err(|e| e.to_string()));
        if let Err(e) = written {
            tracing::warn!(file = %path.display(), "an answer could not be recorded: {e}");
        }
    }
}
